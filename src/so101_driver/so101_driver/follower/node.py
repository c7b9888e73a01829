"""The follower node: a thin ROS shell around ServoArm and GoalLimiter.

Publishes `joint_states` every cycle the arm answered, moves the servos toward `joint_commands`
within the joint limits and speed limits, offers `torque_enable` and `stop`, and reports bus
health on /diagnostics (with each servo's error bits). Torque is switched off in destroy_node(),
which hilserl_common.node.run calls on Ctrl-C, SIGTERM and exceptions alike; when the servos do
not confirm it, the node says so and exits with code 1.
"""
from typing import Optional

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger

from hilserl_common import qos
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from so101_description.model import JOINT_NAMES
from so101_driver.arm.goal_limiter import GoalLimiter
from so101_driver.arm.health import arm_health
from so101_driver.arm.loading import arm_from_config
from so101_driver.arm.motor_setup import FOLLOWER
from so101_driver.diagnostics import health_array
from so101_driver.follower.commands import CommandError, target_from_command
from so101_driver.follower.config import FollowerConfig


class FollowerNode(Node):
    def __init__(self):
        super().__init__('follower')
        self.config = load_config(self, FollowerConfig)
        self.arm = arm_from_config(self.config, FOLLOWER)
        self.arm.torque_wanted = self.config.torque_on_start
        joint_map = self.arm.joint_map
        self.limiter = GoalLimiter(joint_map.lower, joint_map.upper, self.config.max_speed_rad_s)
        self.target: Optional[np.ndarray] = None
        self.stopped = False
        self.ticks = self.published = self.commands = self.rejected_commands = 0
        self._telemetry = None
        self._telemetry_due = 0.0
        self._shut_down = False
        self._period_s = 1.0 / self.config.rate_hz

        self.joint_states = self.create_publisher(JointState, 'joint_states', qos.SENSOR_RELIABLE)
        self.diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', qos.COMMANDS)
        self.create_subscription(JointState, 'joint_commands', self._on_command, qos.COMMANDS)
        self.create_service(SetBool, 'torque_enable', self._on_torque_enable)
        self.create_service(Trigger, 'stop', self._on_stop)
        self.create_timer(self._period_s, self._cycle)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f'follower on {self.config.port} at {self.config.rate_hz:g} Hz, '
                               f'calibration {self.config.calibration_file}')

    # --- control cycle ------------------------------------------------------------------------

    def _cycle(self):
        self.ticks += 1
        state = self.arm.read()
        if state is None:
            return
        if state.fresh_connection:
            self.limiter.reset(state.position)
            self.get_logger().info(f'connected to the follower arm (connection '
                                   f'#{self.arm.counters.connects}, torque '
                                   f'{"on" if self.arm.torque_on else "off"})')
        self._publish_state(state)
        if self.arm.torque_on and self.target is not None and not self.stopped:
            self.arm.write_goals(self.limiter.step(self.target, self._period_s))
        self._read_telemetry()

    def _publish_state(self, state):
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(JOINT_NAMES)
        msg.position = state.position.tolist()
        msg.velocity = state.velocity.tolist()
        self.joint_states.publish(msg)
        self.published += 1

    def _read_telemetry(self):
        period = self.config.telemetry_period_s
        now = self.get_clock().now().nanoseconds * 1e-9
        if period > 0 and now >= self._telemetry_due:
            self._telemetry_due = now + period
            self._telemetry = self.arm.read_telemetry() or self._telemetry

    # --- commands and services ----------------------------------------------------------------

    def _on_command(self, msg: JointState):
        self.commands += 1
        if self.stopped:
            return
        current = self.target if self.target is not None else self.limiter.goal
        try:
            self.target = target_from_command(msg, JOINT_NAMES, current)
        except CommandError as error:
            self.rejected_commands += 1
            self.get_logger().warn(f'joint_commands rejected: {error}',
                                   throttle_duration_sec=2.0)

    def _on_torque_enable(self, request, response):
        response.success, response.message = self.arm.set_torque(request.data)
        self.target = None
        if response.success and request.data:
            self.stopped = False
            self.limiter.reset(self.arm.position)
        self.get_logger().info(f'torque_enable({request.data}): {response.message}')
        return response

    def _on_stop(self, request, response):
        self.stopped = True
        self.target = None
        if self.arm.torque_on and self.arm.position is not None:
            self.limiter.reset(self.arm.position)
            self.arm.write_goals(self.limiter.goal)
        response.success = True
        response.message = ('holding the present pose; joint_commands are ignored until '
                            'torque_enable(true)')
        self.get_logger().warn(f'stop: {response.message}')
        return response

    # --- reporting and shutdown ---------------------------------------------------------------

    def _publish_diagnostics(self):
        health = arm_health(self.arm, self._telemetry)
        health[0].values.extend([
            ('ticks', str(self.ticks)), ('joint_states_published', str(self.published)),
            ('commands', str(self.commands)), ('commands_rejected', str(self.rejected_commands)),
            ('stopped', str(self.stopped))])
        self.diagnostics.publish(health_array(self.get_clock().now().to_msg(), 'follower',
                                              self.config.port, health))

    def destroy_node(self):
        if not self._shut_down:
            self._shut_down = True
            summary = (f'{self.published}/{self.ticks} cycles published, '
                       f'{self.arm.counters.connects} connection(s), '
                       f'{self.arm.bus.counters.failures} bus failures')
            if not self.arm.shutdown_and_report('follower', summary):
                self.exit_code = 1  # the arm may still hold with torque: the exit code says so
        super().destroy_node()


main = main_for(FollowerNode)
