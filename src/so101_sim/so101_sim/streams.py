"""What the sim node publishes, apart from the node: schedules in sim time, one simulated
camera's topics, and message helpers."""
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from hilserl_common import qos
from hilserl_common.stamps import NS_PER_S


def ns_to_time(ns: int) -> Time:
    return Time(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)


def pose_msg(position, quat_wxyz) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
    w, x, y, z = (float(v) for v in quat_wxyz)
    pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = w, x, y, z
    return pose


class Schedule:
    """The publishing instants of one stream: whole periods of sim time from `origin_ns`.

    Streams of commensurate rates then meet: from an origin on a whole second, every third frame
    of a 30 Hz camera falls on a tick of a 10 Hz controller that steps on whole periods of the
    clock, so each control step can see the arm as it is at the step. Free-running grids left
    the frame's age at a step to the chance of their phase (0-35 ms, constant for a stretch of
    a run), and a policy acting on frames 30 ms old succeeded less often than on fresh ones."""

    def __init__(self, rate_hz: float, origin_ns: int = 0):
        self.rate_hz = rate_hz
        self.origin_ns = origin_ns
        self.count = 0  # the index of the next instant

    def instant_ns(self, count: int) -> int:
        return self.origin_ns + round(count * NS_PER_S / self.rate_hz)

    def due(self, now_ns: int) -> bool:
        """Whether an instant is due at `now_ns`; each is due once, and after a stall only the
        last one missed (never a burst)."""
        if now_ns < self.instant_ns(self.count):
            return False
        passed = (now_ns - self.origin_ns) * self.rate_hz // NS_PER_S  # instants up to now
        self.count = max(self.count + 1, int(passed) + 1)
        return True


class CameraStream:
    """One simulated camera's topics (as the camera node publishes them) and schedule."""

    def __init__(self, node: Node, name: str, rate_hz: float, origin_ns: int):
        self.name = name
        self.schedule = Schedule(rate_hz, origin_ns)
        self.raw = node.create_publisher(Image, f'{name}/image_raw', qos.SENSOR)
        self.processed = node.create_publisher(Image, f'{name}/image_proc', qos.SENSOR)
        self.info = node.create_publisher(CameraInfo, f'{name}/camera_info', qos.SENSOR)
