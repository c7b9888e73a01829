"""What an episode bag of this workspace is: a rosbag2 directory (metadata.yaml + one MCAP file
with zstd-compressed chunks) per episode, and the names and types of its topics.

Topic names are relative; a bag carries them in the robot's namespace (`/so101/joint_states`) and
readers match them by suffix (`find_topic`).
"""
from typing import List, Optional, Sequence

from so101_description.cameras import WRIST_CAMERA

BAG_VERSION = 8  # the rosbag2 metadata version of ROS 2 Jazzy

JOINT_STATES = 'joint_states'
JOINT_COMMANDS = 'joint_commands'
LEADER_JOINT_STATES = 'leader/joint_states'
INTERVENTION = 'intervention'
EE_POSE = 'ee_pose'
REWARD = 'reward'
EPISODE_STATS = 'episode_stats'
GRASP_STATE = 'sim/grasp_state'   # simulation only: privileged, never an input of the policy

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
JOINT_STATE = 'sensor_msgs/msg/JointState'
GRASP_STATE_TYPE = 'hilserl_interfaces/msg/GraspState'
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)


class BagError(ValueError):
    """A recording that cannot be read or written as an episode; the message names the bag and
    the problem."""


def image_proc(camera: str = WRIST_CAMERA) -> str:
    """The camera's 128x128 preprocessed image (what the policy and the classifier see)."""
    return f'{camera}/image_proc'


def image_raw(camera: str = WRIST_CAMERA) -> str:
    """The camera's full frame, as the camera node publishes it."""
    return f'{camera}/image_raw'


def image_compressed(camera: str = WRIST_CAMERA) -> str:
    """The full frame as JPEG (the name image_transport's compressed plugin gives it)."""
    return f'{image_raw(camera)}/compressed'


def image_topics(camera: str = WRIST_CAMERA) -> List[str]:
    """A camera's image topics in the order readers prefer them: the processed image as it was
    seen, else the full frame (uncompressed or JPEG), through the current preprocessing."""
    return [image_proc(camera), image_raw(camera), image_compressed(camera)]


def in_namespace(topic: str, namespace: str) -> str:
    """The absolute name of a relative topic in a robot's namespace ('' or '/': none)."""
    if topic.startswith('/'):
        return topic
    prefix = namespace.strip('/')
    return f'/{prefix}/{topic}' if prefix else f'/{topic}'


def matches(topic: str, suffix: str) -> bool:
    suffix = suffix.strip('/')
    return topic.strip('/') == suffix or topic.endswith('/' + suffix)


def find_topic(topics: Sequence[str], suffix: str, bag,
               hint: str = 'name one of them') -> Optional[str]:
    """The one topic of `topics` named `suffix` in any namespace; None if there is none, an error
    naming them if several robots' topics match."""
    found = [t for t in topics if matches(t, suffix)]
    if len(found) > 1:
        raise BagError(f'{bag}: several topics match {suffix!r} ({", ".join(found)}); {hint}')
    return found[0] if found else None
