"""Wrist frames from rosbag2 recordings (MCAP or sqlite3) and episode bags written without ROS.

Reading and writing both go through `rosbags` with its ROS 2 Jazzy type store, so a bag written
here is one `ros2 bag info` accepts, and a bag recorded with `ros2 bag record` reads here.
"""
import dataclasses
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from hilserl_common.preprocessing import IMAGE_SIZE, preprocess

PROCESSED_TOPIC = 'wrist_camera/image_proc'
RAW_TOPIC = 'wrist_camera/image_raw'
JOINT_STATES_TOPIC = 'joint_states'
GRASP_STATE_TOPIC = 'sim/grasp_state'
GRASP_STATE_TYPE = 'hilserl_interfaces/msg/GraspState'
BAG_VERSION = 8  # the rosbag2 format of ROS 2 Jazzy (docs/CONVENTIONS.md)
_IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


class BagError(ValueError):
    """A recording that cannot be read as an episode; the message names the bag and problem."""


@dataclasses.dataclass
class EpisodeFrames:
    """The preprocessed wrist frames of one episode, in time order."""
    images: np.ndarray        # N x 128 x 128 x 3 uint8 RGB
    stamps_ns: np.ndarray     # N int64, header stamps
    topic: str


def typestore():
    return get_typestore(Stores.ROS2_JAZZY)


def choose_image_topic(topics: Sequence[str], wanted: Optional[str], bag: Path) -> str:
    """The wrist image topic of a bag: `wanted` (with or without a namespace), else the processed
    topic, else the raw one. Several robots' topics in one bag need `wanted` to pick one."""
    candidates = [wanted] if wanted else [PROCESSED_TOPIC, RAW_TOPIC]
    for candidate in candidates:
        suffix = candidate.strip('/')
        matches = [t for t in topics if t.strip('/') == suffix or t.endswith('/' + suffix)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise BagError(f'{bag}: several topics match {candidate!r} ({", ".join(matches)}); '
                           f'set image_topic in the label file to one of them')
    raise BagError(f'{bag}: no image topic {" or ".join(candidates)}; the bag has '
                   f'{", ".join(sorted(topics)) or "no topics"}')


def read_episode_frames(bag: Path, image_topic: Optional[str] = None) -> EpisodeFrames:
    """Every frame of the wrist image topic of one bag, through the shared preprocessing."""
    bag = Path(bag)
    if not bag.exists():
        raise BagError(f'episode bag {bag} does not exist')
    try:
        reader = AnyReader([bag], default_typestore=typestore())
        reader.open()
    except Exception as error:  # rosbags raises several types for unreadable bags
        raise BagError(f'{bag}: not a readable rosbag2 recording ({error})') from None
    try:
        image_connections = [c for c in reader.connections if c.msgtype in _IMAGE_TYPES]
        topic = choose_image_topic([c.topic for c in image_connections], image_topic, bag)
        connections = [c for c in image_connections if c.topic == topic]
        images: List[np.ndarray] = []
        stamps: List[int] = []
        for connection, _, raw in reader.messages(connections=connections):
            msg = reader.deserialize(raw, connection.msgtype)
            try:
                images.append(preprocess(decode_image(msg)))
            except ValueError as error:
                raise BagError(f'{bag}: frame {len(images)} of {topic}: {error}') from None
            stamps.append(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)
    finally:
        reader.close()
    if not images:
        raise BagError(f'{bag}: topic {topic} has no frames')
    return EpisodeFrames(images=np.stack(images), stamps_ns=np.asarray(stamps, np.int64),
                         topic=topic)


def decode_image(msg) -> np.ndarray:
    """A deserialized sensor_msgs Image or CompressedImage as H x W x 3 uint8 RGB."""
    if hasattr(msg, 'format'):  # CompressedImage
        bgr = cv2.imdecode(np.asarray(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f'cannot decode a {msg.format!r} compressed image')
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    channels = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}.get(msg.encoding)
    if channels is None:
        raise ValueError(f'unsupported image encoding {msg.encoding!r} (rgb8, bgr8 or mono8)')
    data = np.asarray(msg.data, dtype=np.uint8)
    if data.size != msg.height * msg.step or msg.step < msg.width * channels:
        raise ValueError(f'{data.size} bytes do not make a {msg.height}x{msg.width} '
                         f'{msg.encoding} image with step {msg.step}')
    image = data.reshape(msg.height, msg.step)[:, :msg.width * channels]
    image = image.reshape(msg.height, msg.width, channels)
    if msg.encoding == 'bgr8':
        return np.ascontiguousarray(image[..., ::-1])
    if msg.encoding == 'mono8':
        return np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image)


def register_grasp_state(store) -> None:
    """Add the workspace's GraspState message (from the installed .msg file) to a typestore."""
    from ament_index_python.packages import get_package_share_directory
    path = Path(get_package_share_directory('hilserl_interfaces')) / 'msg' / 'GraspState.msg'
    store.register(get_types_from_msg(path.read_text(), GRASP_STATE_TYPE))


class EpisodeBagWriter:
    """Writes one episode as a rosbag2 MCAP bag with the topics a real recording has: the
    processed images of each camera and the joint states (namespace prefix optional), and in
    simulation the privileged grasp state the labels come from."""

    def __init__(self, path: Path, namespace: str = '', grasp_state: bool = False,
                 cameras: Sequence[str] = ('wrist_camera',)):
        self._store = typestore()
        if grasp_state:
            register_grasp_state(self._store)
        self._types = self._store.types
        self._writer = Writer(Path(path), version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        prefix = '/' + namespace.strip('/') + '/' if namespace.strip('/') else '/'
        self._topics = {camera: (f'{prefix}{camera}/image_proc', 'sensor_msgs/msg/Image')
                        for camera in cameras}
        self._topics['joints'] = (prefix + JOINT_STATES_TOPIC, 'sensor_msgs/msg/JointState')
        if grasp_state:
            self._topics['grasp'] = (prefix + GRASP_STATE_TOPIC, GRASP_STATE_TYPE)
        self._connections = {}

    def __enter__(self):
        self._writer.open()
        for key, (topic, msgtype) in self._topics.items():
            self._connections[key] = self._writer.add_connection(topic, msgtype,
                                                                 typestore=self._store)
        return self

    def __exit__(self, *exc):
        self._writer.close()

    def _header(self, stamp_ns: int, frame_id: str):
        time = self._types['builtin_interfaces/msg/Time'](
            sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))
        return self._types['std_msgs/msg/Header'](stamp=time, frame_id=frame_id)

    def write_image(self, stamp_ns: int, rgb: np.ndarray, camera: str = 'wrist_camera'):
        if rgb.shape != (IMAGE_SIZE, IMAGE_SIZE, 3) or rgb.dtype != np.uint8:
            raise ValueError(f'expected a processed {IMAGE_SIZE}x{IMAGE_SIZE}x3 uint8 frame, '
                             f'got {rgb.shape} {rgb.dtype}')
        msg = self._types['sensor_msgs/msg/Image'](
            header=self._header(stamp_ns, camera), height=IMAGE_SIZE, width=IMAGE_SIZE,
            encoding='rgb8', is_bigendian=0, step=IMAGE_SIZE * 3,
            data=np.ascontiguousarray(rgb).reshape(-1))
        self._writer.write(self._connections[camera], int(stamp_ns),
                           self._store.serialize_cdr(msg, 'sensor_msgs/msg/Image'))

    def write_joint_state(self, stamp_ns: int, names: Sequence[str], positions,
                          velocities=()):
        msg = self._types['sensor_msgs/msg/JointState'](
            header=self._header(stamp_ns, 'base'), name=list(names),
            position=np.asarray(positions, dtype=np.float64),
            velocity=np.asarray(velocities, dtype=np.float64),
            effort=np.zeros(0, dtype=np.float64))
        self._writer.write(self._connections['joints'], int(stamp_ns),
                           self._store.serialize_cdr(msg, 'sensor_msgs/msg/JointState'))

    def write_grasp_state(self, stamp_ns: int, cube_position, cube_quat_wxyz,
                          gripper_contact: bool, grasped: bool, cube_height_m: float,
                          success: bool):
        types = self._types
        w, x, y, z = (float(v) for v in cube_quat_wxyz)
        pose = types['geometry_msgs/msg/Pose'](
            position=types['geometry_msgs/msg/Point'](*(float(v) for v in cube_position)),
            orientation=types['geometry_msgs/msg/Quaternion'](x=x, y=y, z=z, w=w))
        msg = types[GRASP_STATE_TYPE](header=self._header(stamp_ns, 'base'), cube_pose=pose,
                                      gripper_contact=bool(gripper_contact),
                                      grasped=bool(grasped), cube_height=float(cube_height_m),
                                      success=bool(success))
        self._writer.write(self._connections['grasp'], int(stamp_ns),
                           self._store.serialize_cdr(msg, GRASP_STATE_TYPE))
