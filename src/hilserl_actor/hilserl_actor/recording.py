"""One rosbag2 (MCAP, zstd-compressed chunks) per episode, written without ROS's rosbag2 (not
available as wheels) through the workspace's bag module (hilserl_common.bags): messages arrive
already serialised (CDR) from raw subscriptions and are written as they are, so `ros2 bag
info/play` and the demo loader and classifier datasets read them.

Every camera the policy or the reward classifier looks through is recorded (its processed
image, `<camera>/image_proc`), so the reward can be trained from the recordings. On the real arm
each camera's full frame is kept too, as the camera node publishes it in JPEG
(`<camera>/image_raw/compressed`: an MJPG camera's own bytes), so a later change of the crop can
rebuild the processed images; in simulation the scene can simply be recorded again.
"""
import threading
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

from hilserl_common.bags import BagWriter, layout, typestore
from hilserl_common.episode_labels import record_episode_label
from so101_description.cameras import WRIST_CAMERA

# Relative topic -> message type of every episode besides its cameras' (the same on the real arm
# and in sim).
EPISODE_TOPICS = {
    layout.JOINT_STATES: layout.JOINT_STATE,
    layout.JOINT_COMMANDS: layout.JOINT_STATE,
    layout.LEADER_JOINT_STATES: layout.JOINT_STATE,
    layout.INTERVENTION: 'std_msgs/msg/Bool',
    layout.EE_POSE: 'geometry_msgs/msg/PoseStamped',
    layout.REWARD: 'hilserl_interfaces/msg/RewardPrediction',
    layout.EPISODE_STATS: 'hilserl_interfaces/msg/EpisodeStats',
}
# Labels count the frames of the wrist camera (docs/CONVENTIONS.md, "Episode bags").
IMAGE_TOPIC = layout.image_proc(WRIST_CAMERA)
# Simulation only: the privileged grasp state, for auto-labelling. Never an input of the policy.
SIM_TOPICS = {layout.GRASP_STATE: layout.GRASP_STATE_TYPE}


def camera_topics(cameras: Sequence[str], sim: bool) -> Dict[str, str]:
    """Each camera's processed image; on the real arm also its full frame in JPEG."""
    topics = {layout.image_proc(camera): layout.IMAGE for camera in cameras}
    if not sim:
        topics.update({layout.image_compressed(camera): layout.COMPRESSED_IMAGE
                       for camera in cameras})
    return topics


def episode_topics(cameras: Sequence[str], sim: bool) -> Dict[str, str]:
    """Every topic an episode bag records (topic -> message type); `cameras` include the wrist
    camera (ActorConfig.cameras checks it)."""
    return {**EPISODE_TOPICS, **camera_topics(cameras, sim), **(SIM_TOPICS if sim else {})}


class EpisodeRecorder:
    """Bags named episode_0000, episode_0001, ... in one directory; numbering continues after
    the bags already there, so a restarted recording never overwrites. Thread-safe: messages
    arrive on several executor threads while the control loop starts and stops episodes."""

    def __init__(self, directory: str, namespace: str, sim: bool,
                 cameras: Sequence[str] = (WRIST_CAMERA,),
                 settle: Callable[[], None] = lambda: None, log: Callable[[str], None] = print):
        """`cameras`: every view the policy or the reward classifier uses. `settle` runs before
        a kept episode is closed (so its last messages arrive)."""
        self.settle = settle
        self.log = log
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # What the node subscribes to and stores as it arrives (topic -> message type).
        self.topics = episode_topics(cameras, sim)
        self.namespace = namespace or '/'
        self.typestore = typestore()
        self.current: Optional[BagWriter] = None
        self._lock = threading.Lock()

    def next_index(self) -> int:
        taken = [int(p.name.split('_')[1]) for p in self.directory.glob('episode_*')
                 if p.name.split('_')[1].isdigit()]
        return max(taken, default=-1) + 1

    def start(self) -> Path:
        self.stop(keep=False)
        path = self.directory / f'episode_{self.next_index():04d}'
        bag = BagWriter(path)
        for topic, msgtype in self.topics.items():
            bag.add(topic, topic, msgtype, self.namespace)
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
           'episode_topics']
