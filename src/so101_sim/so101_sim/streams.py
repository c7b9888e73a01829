"""What the sim node publishes, apart from the node: schedules in sim time, one simulated
camera's topics, and message helpers."""
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from hilserl_common import qos


def seconds_to_time(seconds: float) -> Time:
    whole = int(seconds)
    return Time(sec=whole, nanosec=int(round((seconds - whole) * 1e9)) % 1_000_000_000)


def pose_msg(position, quat_wxyz) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
    w, x, y, z = (float(v) for v in quat_wxyz)
    pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = w, x, y, z
    return pose


class Schedule:
    """Publishing deadlines in sim time for one stream."""

    def __init__(self, rate_hz: float):
        self.period = 1.0 / rate_hz
        self.next = 0.0

    def due(self, now: float) -> bool:
        if now + 1e-9 < self.next:
            return False
        self.next = max(self.next + self.period, now)  # never a burst after a stall
        return True


class CameraStream:
    """One simulated camera's topics (as the camera node publishes them) and schedule."""

    def __init__(self, node: Node, name: str, rate_hz: float):
        self.name = name
        self.schedule = Schedule(rate_hz)
        self.raw = node.create_publisher(Image, f'{name}/image_raw', qos.SENSOR)
        self.processed = node.create_publisher(Image, f'{name}/image_proc', qos.SENSOR)
        self.info = node.create_publisher(CameraInfo, f'{name}/camera_info', qos.SENSOR)
