"""One rosbag2 (MCAP) per episode, written without ROS's rosbag2 (not available as wheels):
messages arrive already serialised (CDR) from raw subscriptions and are written as they are, so
`ros2 bag info/play` and the `rosbags` readers (demo loader, classifier datasets) accept them.
"""
import threading
from pathlib import Path
from typing import Callable, Dict, Optional

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from hilserl_actor.labels import record_episode_label

# Relative topic -> message type of a demonstration episode (the same on the real arm and in sim).
EPISODE_TOPICS = {
    'joint_states': 'sensor_msgs/msg/JointState',
    'joint_commands': 'sensor_msgs/msg/JointState',
    'leader/joint_states': 'sensor_msgs/msg/JointState',
    'intervention': 'std_msgs/msg/Bool',
    'wrist_camera/image_proc': 'sensor_msgs/msg/Image',
    'ee_pose': 'geometry_msgs/msg/PoseStamped',
    'reward': 'hilserl_interfaces/msg/RewardPrediction',
    'episode_stats': 'hilserl_interfaces/msg/EpisodeStats',
}
IMAGE_TOPIC = 'wrist_camera/image_proc'
# Simulation only: the privileged grasp state, for auto-labelling. Never an input of the policy.
SIM_TOPICS = {'sim/grasp_state': 'hilserl_interfaces/msg/GraspState'}

BAG_VERSION = 8  # the rosbag2 format of ROS 2 Jazzy


def typestore_with_interfaces():
    """The Jazzy typestore plus this workspace's messages (read from the installed .msg files)."""
    from ament_index_python.packages import get_package_share_directory
    store = get_typestore(Stores.ROS2_JAZZY)
    share = Path(get_package_share_directory('hilserl_interfaces')) / 'msg'
    types = {}
    for path in sorted(share.glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'hilserl_interfaces/msg/{path.stem}'))
    store.register(types)
    return store


class EpisodeBag:
    """A bag being written; `close()` finishes it (metadata.yaml), `discard()` removes it."""

    def __init__(self, path: Path, topics: Dict[str, str], namespace: str, typestore):
        self.path = path
        self._writer = Writer(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {}
        for topic, msgtype in topics.items():
            name = topic if topic.startswith('/') else f'{namespace.rstrip("/")}/{topic}'
            self._connections[topic] = self._writer.add_connection(name, msgtype,
                                                                   typestore=typestore)
        self.counts = {topic: 0 for topic in topics}

    def write(self, topic: str, time_ns: int, serialized: bytes):
        self._writer.write(self._connections[topic], time_ns, serialized)
        self.counts[topic] += 1

    def close(self):
        self._writer.close()

    def discard(self):
        self._writer.close()
        for file in self.path.iterdir():
            file.unlink()
        self.path.rmdir()


class EpisodeRecorder:
    """Bags named episode_0000, episode_0001, ... in one directory; numbering continues after
    the bags already there, so a restarted recording never overwrites. Thread-safe: messages
    arrive on several executor threads while the control loop starts and stops episodes."""

    def __init__(self, directory: str, namespace: str, sim: bool,
                 settle: Callable[[], None] = lambda: None, log: Callable[[str], None] = print):
        """`settle` runs before a kept episode is closed (so its last messages arrive)."""
        self.settle = settle
        self.log = log
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.topics = {**EPISODE_TOPICS, **(SIM_TOPICS if sim else {})}
        self.namespace = namespace or '/'
        self.typestore = typestore_with_interfaces()
        self.current: Optional[EpisodeBag] = None
        self._lock = threading.Lock()

    def next_index(self) -> int:
        taken = [int(p.name.split('_')[1]) for p in self.directory.glob('episode_*')
                 if p.name.split('_')[1].isdigit()]
        return max(taken, default=-1) + 1

    def start(self) -> Path:
        self.stop(keep=False)
        path = self.directory / f'episode_{self.next_index():04d}'
        bag = EpisodeBag(path, self.topics, self.namespace, self.typestore)
        with self._lock:
            self.current = bag
        return path

    def write(self, topic: str, time_ns: int, serialized: bytes):
        with self._lock:
            if self.current is not None:
                self.current.write(topic, time_ns, serialized)

    def frames_written(self) -> int:
        """Wrist frames in the current bag so far: the index the next frame will have."""
        with self._lock:
            return self.current.counts[IMAGE_TOPIC] if self.current else 0

    def keep(self, success_frame: Optional[int]) -> Optional[Path]:
        """Finish the current episode's bag and label it in labels.yaml (success from frame
        `success_frame`, None: never)."""
        self.settle()
        path = self.stop(keep=True)
        if path is not None:
            record_episode_label(path.parent / 'labels.yaml', path.name, success_frame)
            self.log(f'episode saved: {path} (success from frame {success_frame})')
        return path

    def discard(self) -> None:
        self.stop(keep=False)

    def stop(self, keep: bool = True) -> Optional[Path]:
        """Finish the current bag; `keep=False` throws it away (re-record)."""
        with self._lock:
            bag, self.current = self.current, None
        if bag is None:
            return None
        if keep:
            bag.close()
            return bag.path
        bag.discard()
        return None


def bag_directories(directory: str):
    return sorted(p for p in Path(directory).glob('episode_*') if (p / 'metadata.yaml').exists()
                  or any(p.glob('*.mcap')))


__all__ = ['EPISODE_TOPICS', 'SIM_TOPICS', 'EpisodeRecorder', 'bag_directories',
           'typestore_with_interfaces']
