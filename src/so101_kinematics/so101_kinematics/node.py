"""The `kinematics` node: compute_ik / compute_fk services and the stamped EE pose (tool frame
in the base frame, see kinematics.py) for every joint_states message. A thin shell over
so101_kinematics.kinematics; bad requests get a status in the response, never a crash."""
from typing import Optional

import numpy as np
from geometry_msgs.msg import Point, Pose, PoseStamped
from sensor_msgs.msg import JointState

from hilserl_common import qos
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_interfaces.srv import ComputeFK, ComputeIK
from so101_description.model import JOINT_NAMES, joints_in_model_order
from so101_kinematics.kinematics import EEPose, Kinematics, KinematicsConfig

BASE_FRAME = 'base'


def pose_msg(pose: EEPose) -> Pose:
    msg = Pose()
    msg.position.x, msg.position.y, msg.position.z = (float(v) for v in pose.position)
    w, x, y, z = (float(v) for v in pose.quat_wxyz)
    msg.orientation.w, msg.orientation.x, msg.orientation.y, msg.orientation.z = w, x, y, z
    return msg


class KinematicsNode(Node):
    def __init__(self):
        super().__init__('kinematics')
        self.kinematics = Kinematics(load_config(self, KinematicsConfig))
        self.latest_joints: Optional[np.ndarray] = None
        self.pose_pub = self.create_publisher(PoseStamped, 'ee_pose', qos.SENSOR_RELIABLE)
        self.create_subscription(JointState, 'joint_states', self._on_joints, qos.SENSOR_RELIABLE)
        self.create_service(ComputeIK, 'compute_ik', self._on_ik)
        self.create_service(ComputeFK, 'compute_fk', self._on_fk)
        self.get_logger().info('kinematics ready: ee_pose from joint_states, compute_ik and '
                               'compute_fk offered')

    def _on_joints(self, msg: JointState):
        joints = joints_in_model_order(msg.name, msg.position)
        if joints is None:
            self.get_logger().warning(f'joint_states without the joints {list(JOINT_NAMES)}: '
                                      f'{list(msg.name)}', throttle_duration_sec=5.0)
            return
        pose = self.kinematics.forward(joints)
        if not pose.ok:
            self.get_logger().warning(f'no EE pose: {pose.message}', throttle_duration_sec=5.0)
            return
        self.latest_joints = joints
        out = PoseStamped(pose=pose_msg(pose))
        out.header.stamp = msg.header.stamp
        out.header.frame_id = BASE_FRAME
        self.pose_pub.publish(out)

    def _on_fk(self, request, response):
        pose = self.kinematics.forward(list(request.joint_positions))
        response.ok = pose.ok
        response.message = pose.message
        if pose.ok:
            response.pose = pose_msg(pose)
            response.rpy = pose.rpy.tolist()
        return response

    def _on_ik(self, request, response):
        measured = list(request.measured_joints)
        if not measured:
            measured = self.latest_joints if self.latest_joints is not None else []
        target = [request.target.x, request.target.y, request.target.z]
        result = self.kinematics.inverse(target, measured,
                                         max_iterations=int(request.max_iterations) or None)
        response.status = int(result.status)
        response.message = result.message or (
            '' if result.commandable else 'no measured joints: do not command')
        response.joint_positions = result.joints.tolist()
        response.reached = Point(x=float(result.reached[0]), y=float(result.reached[1]),
                                 z=float(result.reached[2]))
        response.position_error = float(result.error_m)  # inf for invalid input
        response.iterations = int(result.iterations)
        return response


main = main_for(KinematicsNode)
