"""One rosbag2 (MCAP, zstd-compressed chunks) per episode, written without ROS's rosbag2 (not
available as wheels) through the workspace's bag module (hilserl_common.bags): messages arrive
already serialised (CDR) from raw subscriptions and are written as they are, so `ros2 bag
info/play` and the demo loader and classifier datasets read them.

On the real arm the wrist camera's full frame is kept too, as JPEG (image_raw/compressed), so a
later change of the crop can rebuild the processed images; in simulation the scene can simply be
recorded again.
"""
import queue
import threading
from pathlib import Path
from typing import Callable, Dict, NamedTuple, Optional

from hilserl_actor.labels import record_episode_label
from hilserl_common.bags import BagWriter, compress_image_cdr, layout, typestore

# Relative topic -> message type of a demonstration episode (the same on the real arm and in sim).
EPISODE_TOPICS = {
    layout.JOINT_STATES: layout.JOINT_STATE,
    layout.JOINT_COMMANDS: layout.JOINT_STATE,
    layout.LEADER_JOINT_STATES: layout.JOINT_STATE,
    layout.INTERVENTION: 'std_msgs/msg/Bool',
    layout.image_proc(): layout.IMAGE,
    layout.EE_POSE: 'geometry_msgs/msg/PoseStamped',
    layout.REWARD: 'hilserl_interfaces/msg/RewardPrediction',
    layout.EPISODE_STATS: 'hilserl_interfaces/msg/EpisodeStats',
}
IMAGE_TOPIC = layout.image_proc()
# Simulation only: the privileged grasp state, for auto-labelling. Never an input of the policy.
SIM_TOPICS = {layout.GRASP_STATE: layout.GRASP_STATE_TYPE}
# Real arm only: the full camera frame, stored as JPEG.
REAL_ARM_TOPICS = {layout.image_raw(): layout.IMAGE}


class Stored(NamedTuple):
    """How a subscribed topic is kept in the bag."""
    topic: str
    msgtype: str
    convert: Optional[Callable[[bytes], bytes]] = None


def stored_form(topics: Dict[str, str]) -> Dict[str, Stored]:
    """Subscribed topic -> how it is stored: as received, full frames as JPEG."""
    store = typestore()
    forms = {topic: Stored(topic, msgtype) for topic, msgtype in topics.items()}
    for topic in set(topics) & set(REAL_ARM_TOPICS):
        forms[topic] = Stored(f'{topic}/compressed', layout.COMPRESSED_IMAGE,
                              lambda data: compress_image_cdr(store, data))
    return forms


class FullFrames:
    """JPEG encoding of full camera frames on a thread of its own: the actor's one executor
    thread, which also delivers the control loop's inputs, never waits for it (a 640x480 frame
    takes 5-15 ms). At most `capacity` frames wait; more are dropped and counted."""

    def __init__(self, write: Callable[[BagWriter, str, int, bytes], None], capacity: int = 30):
        self._write = write
        self._pending: queue.Queue = queue.Queue(maxsize=capacity)
        self.dropped = 0
        threading.Thread(target=self._run, name='full_frames', daemon=True).start()

    def put(self, bag: BagWriter, topic: str, time_ns: int, serialized: bytes,
            convert: Callable[[bytes], bytes]):
        try:
            self._pending.put_nowait((bag, topic, time_ns, serialized, convert))
        except queue.Full:
            self.dropped += 1

    def wait(self):
        """Until every frame put so far is in its bag."""
        self._pending.join()

    def _run(self):
        while True:
            bag, topic, time_ns, serialized, convert = self._pending.get()
            try:
                self._write(bag, topic, time_ns, convert(serialized))
            except ValueError:  # a frame that is no image: as good as lost on the way
                self.dropped += 1
            finally:
                self._pending.task_done()


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
        # What the node subscribes to (topic -> message type as published).
        self.topics = {**EPISODE_TOPICS, **(SIM_TOPICS if sim else REAL_ARM_TOPICS)}
        self.forms = stored_form(self.topics)
        self.namespace = namespace or '/'
        self.typestore = typestore()
        self.current: Optional[BagWriter] = None
        self._lock = threading.Lock()
        converted = any(form.convert for form in self.forms.values())
        self.full_frames = FullFrames(self._write_converted) if converted else None

    def next_index(self) -> int:
        taken = [int(p.name.split('_')[1]) for p in self.directory.glob('episode_*')
                 if p.name.split('_')[1].isdigit()]
        return max(taken, default=-1) + 1

    def start(self) -> Path:
        self.stop(keep=False)
        path = self.directory / f'episode_{self.next_index():04d}'
        bag = BagWriter(path)
        for topic, form in self.forms.items():
            bag.add(topic, form.topic, form.msgtype, self.namespace)
        with self._lock:
            self.current = bag
        return path

    def write(self, topic: str, time_ns: int, serialized: bytes):
        convert = self.forms[topic].convert
        with self._lock:
            if self.current is None:
                return
            if convert is None:
                self.current.write(topic, time_ns, serialized)
            else:  # queued under the lock: stop() then waits for it before closing the bag
                self.full_frames.put(self.current, topic, time_ns, serialized, convert)

    def _write_converted(self, bag: BagWriter, topic: str, time_ns: int, serialized: bytes):
        with self._lock:
            bag.write(topic, time_ns, serialized)

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
            dropped = self.full_frames.dropped if self.full_frames else 0
            self.log(f'episode saved: {path} (success from frame {success_frame})'
                     + (f'; {dropped} full frames dropped so far (JPEG encoding fell behind)'
                        if dropped else ''))
        return path

    def discard(self) -> None:
        self.stop(keep=False)

    def stop(self, keep: bool = True) -> Optional[Path]:
        """Finish the current bag; `keep=False` throws it away (re-record)."""
        with self._lock:
            bag, self.current = self.current, None
        if bag is None:
            return None
        if self.full_frames:
            self.full_frames.wait()
        if keep:
            bag.close()
            return bag.path
        bag.discard()
        return None


def bag_directories(directory: str):
    return sorted(p for p in Path(directory).glob('episode_*') if (p / 'metadata.yaml').exists()
                  or any(p.glob('*.mcap')))


__all__ = ['EPISODE_TOPICS', 'REAL_ARM_TOPICS', 'SIM_TOPICS', 'EpisodeRecorder',
           'bag_directories']
