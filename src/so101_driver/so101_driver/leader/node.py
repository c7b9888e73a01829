"""The leader node: publishes the leader arm (torque off), the operator's intervention flag and
the operator's episode marks.

`leader/joint_states` carries the leader's joints in the follower's terms (the gripper mapped to
the follower's); `intervention` is published every cycle, from the leader's motion relative to
the follower's `joint_states` and from the toggle key or pedal; `operator_event` (success,
failure, rerecord) is published when the operator presses the key bound to it, for the actor.
`intervention_toggle` (from the operator console) flips the toggle as its key does.
"""
import time

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Empty, String

from hilserl_common import qos
from hilserl_common.config import ConfigError
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from so101_description.model import GRIPPER_INDEX, JOINT_NAMES
from so101_driver.arm.health import arm_health
from so101_driver.arm.loading import arm_from_config
from so101_driver.arm.motor_setup import LEADER
from so101_driver.diagnostics import health_array
from so101_driver.leader.config import LeaderConfig
from so101_driver.leader.gripper import GripperMapping
from so101_driver.leader.intervention import InterventionDetector, InterventionThresholds
from so101_driver.leader.keys import EvdevKeys, StdinKeys


class LeaderNode(Node):
    def __init__(self):
        super().__init__('leader')
        self.config = c = load_config(self, LeaderConfig)
        self.arm = arm_from_config(c, LEADER)
        self.arm.torque_wanted = False  # moved by hand
        limits = (self.arm.joint_map.lower[GRIPPER_INDEX], self.arm.joint_map.upper[GRIPPER_INDEX])
        try:
            self.gripper = GripperMapping(c.gripper_leader_rad, c.gripper_follower_rad, limits)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        self.detector = InterventionDetector(InterventionThresholds(
            c.engage_deviation_rad, c.motion_rad_s, c.release_after_s))
        self.follower = None  # (receive time, positions)
        self.ticks = self.published = self.interventions = 0
        self._was_intervening = False
        self._telemetry = None
        self._telemetry_due = 0.0
        self._shut_down = False

        self.leader_states = self.create_publisher(JointState, 'leader/joint_states',
                                                   qos.SENSOR_RELIABLE)
        self.intervention = self.create_publisher(Bool, 'intervention', qos.COMMANDS)
        self.diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', qos.COMMANDS)
        self.operator_events = self.create_publisher(String, 'operator_event', qos.COMMANDS)
        self.create_subscription(JointState, 'joint_states', self._on_follower,
                                 qos.SENSOR_RELIABLE)
        # The operator console's toggle button: the same toggle as the key or pedal.
        self.create_subscription(Empty, 'intervention_toggle', lambda _: self._on_toggle(),
                                 qos.COMMANDS)
        self.create_timer(1.0 / c.rate_hz, self._cycle)
        self.create_timer(1.0, self._publish_diagnostics)
        self.keys = []  # (key source, its bindings key -> action)
        if c.key_device:
            bindings = c.device_keys()
            self.keys.append((EvdevKeys(c.key_device, self._key_callbacks(bindings)), bindings))
        if c.stdin_keys:
            bindings = c.terminal_keys()
            self.keys.append((StdinKeys(self._key_callbacks(bindings)), bindings))
        self.get_logger().info(f'leader on {c.port} at {c.rate_hz:g} Hz, calibration '
                               f'{c.calibration_file}')

    def _key_callbacks(self, bindings):
        """key -> callback for key -> action ('toggle' or an operator_event)."""
        return {key: self._on_toggle if action == 'toggle'
                else (lambda event=action: self._on_episode_mark(event))
                for key, action in bindings.items()}

    def _on_episode_mark(self, event: str):
        # called from a key thread; rclpy publishers may be used from any thread
        self.operator_events.publish(String(data=event))
        self.get_logger().info(f'operator: {event}')

    def _on_toggle(self):
        state = self.detector.toggle()  # called from a toggle thread; a bool flip is atomic
        self.get_logger().info(f'intervention toggle {"ON" if state else "off"}')

    def _on_follower(self, msg: JointState):
        try:
            positions = [msg.position[list(msg.name).index(n)] for n in JOINT_NAMES]
        except (ValueError, IndexError):
            self.get_logger().warn('follower joint_states without every joint; ignored',
                                   throttle_duration_sec=5.0)
            return
        self.follower = (time.monotonic(), positions)

    def _cycle(self):
        self.ticks += 1
        now = time.monotonic()
        state = self.arm.read()
        if state is None:
            self.detector.reset()
            intervening = False  # no leader reading, nothing to follow
        else:
            position, velocity = state.position.copy(), state.velocity.copy()
            position[GRIPPER_INDEX] = self.gripper(position[GRIPPER_INDEX])
            velocity[GRIPPER_INDEX] *= self.gripper.slope
            follower = None
            if self.follower and now - self.follower[0] <= self.config.follower_timeout_s:
                follower = self.follower[1]
            intervening = self.detector.update(now, position, follower)
            self._publish_leader(position, velocity)
        self.intervention.publish(Bool(data=intervening))
        if intervening and not self._was_intervening:
            self.interventions += 1
        self._was_intervening = intervening
        self._read_telemetry(now)

    def _publish_leader(self, position, velocity):
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(JOINT_NAMES)
        msg.position = position.tolist()
        msg.velocity = velocity.tolist()
        self.leader_states.publish(msg)
        self.published += 1

    def _read_telemetry(self, now):
        period = self.config.telemetry_period_s
        if period > 0 and now >= self._telemetry_due:
            self._telemetry_due = now + period
            self._telemetry = self.arm.read_telemetry() or self._telemetry

    def _publish_diagnostics(self):
        health = arm_health(self.arm, self._telemetry)
        health[0].values.extend([
            ('ticks', str(self.ticks)), ('leader_states_published', str(self.published)),
            ('interventions', str(self.interventions)),
            ('toggle_on', str(self.detector.toggled))])
        health[0].values.extend(
            (f'keys.{type(source).__name__}.{bindings[key]}.presses', str(count))
            for source, bindings in self.keys for key, count in source.presses.items())
        self.diagnostics.publish(health_array(self.get_clock().now().to_msg(), 'leader',
                                              self.config.port, health))

    def destroy_node(self):
        if not self._shut_down:
            self._shut_down = True
            for source, _ in self.keys:
                if hasattr(source, 'close'):
                    source.close()
            # The leader's torque is off already; this makes sure of it.
            if not self.arm.shutdown_and_report('leader'):
                self.exit_code = 1
        super().destroy_node()


main = main_for(LeaderNode)
