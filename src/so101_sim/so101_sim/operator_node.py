"""The `operator` node: the simulated human on the leader arm. It publishes
leader/joint_states and the intervention flag like the real leader node, deciding from the
follower's joint_states and the simulation's privileged sim/grasp_state (see operator.py).

The actor's episode_start (published once its reset is done) and episode_stats mark an
episode's start and end: the operator watches the policy from its first step, never the reset.
`intervention_toggle` (the operator console's button, the leader's toggle key) forces an
intervention on until toggled off: the simulated person then holds the leader still where the
follower was, so the arm holds there too. With `marks` on, its marks go on `operator_event`, the
topic of the leader's keys and the console's buttons.
"""
from typing import Optional

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Empty, String, UInt32

from hilserl_common import qos
from hilserl_common.diagnostics import status_array
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_interfaces.msg import EpisodeStats, GraspState
from so101_description.model import JOINT_NAMES, joints_in_model_order
from so101_kinematics.kinematics import Kinematics, KinematicsConfig
from so101_sim.operator import OperatorConfig, OperatorState, SimulatedOperator
from so101_sim.scripted_grasp import GraspScriptConfig

STILL_VELOCITY_RAD_S = 0.05


class SimOperatorNode(Node):
    def __init__(self):
        super().__init__('operator')
        self.config = load_config(self, OperatorConfig)
        script_config = load_config(self, GraspScriptConfig)
        kinematics = Kinematics(load_config(self, KinematicsConfig))
        self.operator = SimulatedOperator(kinematics, self.config, script_config)
        self.follower: Optional[JointState] = None
        self.grasp: Optional[GraspState] = None
        self.episodes = 0

        self.leader_pub = self.create_publisher(JointState, 'leader/joint_states',
                                                qos.SENSOR_RELIABLE)
        self.intervention_pub = self.create_publisher(Bool, 'intervention', qos.COMMANDS)
        self.event_pub = self.create_publisher(String, 'operator_event', qos.COMMANDS)
        self.create_subscription(JointState, 'joint_states', self._on_joints, qos.SENSOR_RELIABLE)
        self.create_subscription(GraspState, 'sim/grasp_state', self._on_grasp,
                                 qos.SENSOR_RELIABLE)
        self.create_subscription(UInt32, 'episode_start', self._on_episode_start, qos.COMMANDS)
        self.create_subscription(EpisodeStats, 'episode_stats', self._on_episode_end,
                                 qos.COMMANDS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                                     qos.COMMANDS)
        self.output = None  # the latest decision, published at the leader's rate
        self.held = None    # leader joints held while the toggle is on (None: off)
        self.create_subscription(Empty, 'intervention_toggle', self._on_toggle, qos.COMMANDS)
        self.create_timer(1.0 / self.config.control_rate_hz, self._tick)
        self.create_timer(1.0 / self.config.leader_rate_hz, self._publish_leader)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f'simulated operator in {self.config.mode} mode')

    def _on_joints(self, msg: JointState):
        self.follower = msg

    def _on_grasp(self, msg: GraspState):
        self.grasp = msg

    def _on_episode_start(self, msg: UInt32):
        self.operator.new_episode()
        self.episodes += 1
        self.get_logger().debug(f'episode {msg.data} started')

    def _on_episode_end(self, msg: EpisodeStats):
        self.operator.episode_ended(msg.mode, msg.success)

    def _tick(self):
        if self.follower is None or self.grasp is None:
            return
        joints = joints_in_model_order(self.follower.name, self.follower.position)
        if joints is None:
            return
        velocities = np.asarray(self.follower.velocity, dtype=float)
        still = velocities.size == 0 or bool(np.all(np.abs(velocities) < STILL_VELOCITY_RAD_S))
        kind = self.operator.demo_kind
        # What a person at the arm sees: where the cube is, and whether it is up.
        output = self.operator.tick(joints, _position(self.grasp), still,
                                    cube_lifted=bool(self.grasp.success))
        if output is not None and output.mark:
            self.get_logger().info(f'operator marks {output.mark} (demonstration of {kind})')
            self.event_pub.publish(String(data=output.mark))
        if output is not None:
            velocity = np.zeros(len(JOINT_NAMES))
            if self.output is not None:  # like the real leader's velocity readings
                velocity = ((output.leader_joints - self.output[0].leader_joints)
                            * self.config.control_rate_hz)
            self.output = (output, velocity)

    def _on_toggle(self, _):
        if self.held is not None:
            self.held = None
        elif self.follower is not None:
            self.held = joints_in_model_order(self.follower.name, self.follower.position)
        self.get_logger().info(f'intervention toggle {"ON" if self.held is not None else "off"}')

    def _publish_leader(self):
        if self.held is not None:
            msg = JointState(name=list(JOINT_NAMES), position=self.held.tolist(),
                             velocity=[0.0] * len(JOINT_NAMES))
            msg.header.stamp = self.get_clock().now().to_msg()
            self.leader_pub.publish(msg)
            self.intervention_pub.publish(Bool(data=True))
            return
        if self.output is None:
            return
        output, velocity = self.output
        leader = output.leader_joints
        if not output.intervention and self.follower is not None:
            # Not held: the leader follows the follower between decisions too.
            joints = joints_in_model_order(self.follower.name, self.follower.position)
            if joints is not None:
                leader = joints
                if len(self.follower.velocity) == len(self.follower.name):
                    lookup = dict(zip(self.follower.name, self.follower.velocity))
                    velocity = np.array([lookup[name] for name in JOINT_NAMES])
        msg = JointState(name=list(JOINT_NAMES), position=leader.tolist(),
                         velocity=velocity.tolist())
        msg.header.stamp = self.get_clock().now().to_msg()
        self.leader_pub.publish(msg)
        self.intervention_pub.publish(Bool(data=output.intervention))

    def _publish_diagnostics(self):
        operator = self.operator
        values = {'mode': self.config.mode, 'state': operator.state.value,
                  'episodes_seen': str(self.episodes),
                  'corrections_this_episode': str(operator.corrections),
                  'intervention_steps_this_episode': str(operator.intervention_steps),
                  'inputs': 'ok' if self.follower and self.grasp else 'waiting for topics'}
        self.diagnostics_pub.publish(status_array(
            self.get_clock().now().to_msg(), DiagnosticStatus.OK,
            f'{self.get_fully_qualified_name()}: simulated operator', operator.state.value,
            'simulation', values))

    @property
    def state(self) -> OperatorState:
        return self.operator.state


def _position(msg: GraspState) -> np.ndarray:
    p = msg.cube_pose.position
    return np.array([p.x, p.y, p.z])


main = main_for(SimOperatorNode)
