"""Demonstrations from rosbag2 recordings (MCAP or sqlite3), read with `rosbags` (no ROS).

One recording is one episode (the record graph writes one bag per episode), read through the
workspace's bag module (hilserl_common.bags). The topics are matched by name within the robot's
namespace (docs/CONVENTIONS.md):

    joint_states              follower joints (required)  -> state, EE-delta action
    wrist_camera/image_proc   128x128 rgb8 (required,     -> image
      or else image_raw, image_raw/compressed: the full frame through the current crop)
    leader/joint_states       leader joints (optional)    -> gripper command
    intervention              std_msgs/Bool (optional)    -> is_intervention (default true)
    reward                    RewardPrediction (optional) -> reward, termination
    sim/grasp_state           GraspState (optional)       -> the same, where no reward was
                                                             recorded (simulated demos)

Observations are rebuilt at the control rate: at each tick the newest message of every topic.
Time is the messages' header stamps (simulation time when the simulation runs faster than real
time); messages without a header are placed by their recording time, mapped onto the stamps of
the joint states.
Step k stores the human's action as so101_kinematics.action_space defines it for every human
step, demonstrations and the actor's interventions alike: the follower's realised EE motion
between ticks k and k+1 in action units, clipped; the gripper command is the quantised
difference between the leader's gripper and the follower's (or the follower's own change when
no leader was recorded). The episode ends (terminated, reward 1) at the first tick that shows
success: by the reward predictions recorded with it, else by the simulation's grasp state
(exact, where there is one), else by the person's label (the first successful wrist frame in the
labels.yaml beside the recording, which the recorder writes and `reward_classifier_cli label`
corrects); with none of them the last step is the success. On the real arm a person marks S
seconds after the lift (README, "On the real arm", step 4): without the label a demonstration
would teach that the lifted cube is worth nothing until the key. The label counts frames of the
wrist camera's first image topic, so it is used only when that topic is read (no `image_topic`
setting). The converted
episode is cached as .npz, keyed by the bag's files and the conversion settings, so a restart
does not convert it again.
"""
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from hilserl_common.bags import (
    connection_of,
    image_topics,
    layout,
    messages,
    open_bag,
    processed_image,
    stamp_ns,
)
from hilserl_common.episode_labels import episode_labels
from hilserl_common.stamps import NS_PER_S
from hilserl_learner.replay.buffer import SCALAR_FIELDS, Transition

LOGGER = logging.getLogger(__name__)
CONVERTER_VERSION = 4  # bump when the conversion changes, so caches are rebuilt
TOPICS = {
    'follower': layout.JOINT_STATES,
    'leader': layout.LEADER_JOINT_STATES,
    'intervention': layout.INTERVENTION,
    'reward': layout.REWARD,
    'grasp_state': layout.GRASP_STATE,
}


@dataclass(frozen=True)
class DemoSettings:
    control_rate_hz: float = 10.0
    action_scale: float = 0.02
    gripper_change_threshold_rad: float = 0.05
    # Simulation diagnostics: append the cube's offset from the EE (from sim/grasp_state) to
    # the state, as hilserl_experiments.in_process does for its privileged-state runs.
    privileged_state: bool = False
    # The wrist image topic to read (any namespace); empty: image_proc, else the full frame
    # (image_raw, image_raw/compressed). Naming a full frame rebuilds the images with the
    # current crop.
    image_topic: str = ''

    def key(self) -> str:
        return (f'v{CONVERTER_VERSION}-{self.control_rate_hz}-{self.action_scale}-'
                f'{self.gripper_change_threshold_rad}'
                + ('-privileged' if self.privileged_state else '')
                + (f'-{self.image_topic.strip("/")}' if self.image_topic else ''))


def load_demos(paths: Sequence[str], cache_dir: str = '',
               settings: DemoSettings = DemoSettings()) -> List[Transition]:
    """Transitions of every recording in `paths`, converted or from the cache."""
    transitions: List[Transition] = []
    for path in paths:
        transitions.extend(load_episode(Path(path), cache_dir, settings))
    return transitions


def load_episode(bag: Path, cache_dir: str, settings: DemoSettings) -> List[Transition]:
    if not bag.exists():
        raise ValueError(f'demo recording {bag} does not exist')
    cache = _cache_path(bag, cache_dir, settings)
    if cache.exists():
        with np.load(cache) as columns:
            return _unstack({name: columns[name] for name in columns.files})
    columns = convert_bag(bag, settings)
    cache.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_suffix('.tmp.npz')
    np.savez(temporary, **columns)
    temporary.replace(cache)
    return _unstack(columns)


def convert_bag(bag: Path, settings: DemoSettings) -> Dict[str, np.ndarray]:
    """A recording as columns of transitions (see the module docstring)."""
    streams = _read_streams(bag, settings.image_topic)
    for required, topic in (('follower', TOPICS['follower']), ('image', 'wrist image')):
        if not streams[required]:
            raise ValueError(f'demo recording {bag} has no {topic} messages')
    period = 1.0 / settings.control_rate_hz
    start = max(streams['follower'][0][0], streams['image'][0][0])
    end = streams['follower'][-1][0]
    ticks = start + period * np.arange(int(np.floor((end - start) / period)) + 1)
    if len(ticks) < 2:
        raise ValueError(f'demo recording {bag} is shorter than two control periods')
    sampled = {name: _newest_at(stream, ticks) for name, stream in streams.items()}
    labelled = None if settings.image_topic else _labelled_success_tick(bag, streams['image'],
                                                                        ticks)
    return _transitions(bag, sampled, settings, period, labelled)


def _labelled_success_tick(bag: Path, images: list, ticks: np.ndarray) -> Optional[int]:
    """The first tick that sees the wrist frame a person labelled the first success, or None
    without such a label."""
    frame = _labelled_success_frame(bag)
    if frame is None or frame >= len(images):
        return None
    tick = int(np.searchsorted(ticks, images[frame][0], side='left'))
    return tick if tick < len(ticks) else None


def _labelled_success_frame(bag: Path) -> Optional[int]:
    return (episode_labels(bag.parent).get(bag.name) or {}).get('success_from_frame')


def _transitions(bag, sampled, settings, period, labelled: Optional[int]
                 ) -> Dict[str, np.ndarray]:
    from so101_kinematics.action_space import human_action, human_gripper_action
    from so101_kinematics.kinematics import Kinematics
    from so101_kinematics.proprioception import ProprioceptionTracker

    kinematics = Kinematics()
    tracker = ProprioceptionTracker(kinematics, period)
    joints = [np.asarray(q, float) for q in sampled['follower']]
    states = [tracker.update(q) for q in joints]
    if settings.privileged_state:
        states = _with_privileged_state(bag, kinematics, joints, states, sampled['grasp_state'])
    positions = [kinematics.position(q) for q in joints]
    images = [_image(msg, bag) for msg in sampled['image']]  # only the frames sampled
    rows: Dict[str, list] = {name: [] for name in list(SCALAR_FIELDS) + ['image', 'next_image']}
    reward_source = next((name for name in ('reward', 'grasp_state')
                          if any(m is not None for m in sampled[name])), None)
    if reward_source is None and labelled is not None:
        reward_source = 'label'
    has_reward = reward_source is not None
    if not has_reward:
        LOGGER.warning('demo recording %s has no reward, label or sim/grasp_state: its last '
                       'step counts as the success', bag)
    for k in range(len(joints) - 1):
        if reward_source == 'label':
            success = k + 1 >= labelled
        else:
            verdict = sampled[reward_source][k + 1] if reward_source else None
            success = bool(verdict is not None and verdict.success)
        last = k == len(joints) - 2
        terminated = success or (last and not has_reward)
        leader = sampled['leader'][k]
        gripper = human_gripper_action(joints[k][5], joints[k + 1][5],
                                       None if leader is None else float(leader[5]),
                                       settings.gripper_change_threshold_rad)
        intervention = sampled['intervention'][k]
        row = {
            'state': states[k], 'next_state': states[k + 1],
            'action': human_action(positions[k], positions[k + 1], settings.action_scale),
            'gripper_action': int(gripper),
            'reward': float(terminated), 'gripper_penalty': 0.0,
            'terminated': terminated, 'truncated': last and not terminated,
            'is_intervention': True if intervention is None else bool(intervention.data),
            'image': images[k], 'next_image': images[k + 1]}
        for name, value in row.items():
            rows[name].append(value)
        if terminated:
            break
    columns = {name: np.asarray(values, dtype=SCALAR_FIELDS[name][1])
               for name, values in rows.items() if name in SCALAR_FIELDS}
    columns['image'] = np.stack(rows['image'])
    columns['next_image'] = np.stack(rows['next_image'])
    return columns


def _with_privileged_state(bag, kinematics, joints, states, grasp_states) -> list:
    from so101_kinematics.proprioception import privileged_cube_offset
    first = next((msg for msg in grasp_states if msg is not None), None)
    if first is None:
        raise ValueError(f'demo recording {bag} has no sim/grasp_state: privileged state needs '
                         'a simulated recording')
    # Ticks before the first grasp state: the cube had not moved yet.
    grasp_states = [first if msg is None else msg for msg in grasp_states]
    cubes = [(m.cube_pose.position.x, m.cube_pose.position.y, m.cube_pose.position.z)
             for m in grasp_states]
    return [np.concatenate([s, privileged_cube_offset(kinematics, q, c)]).astype(np.float32)
            for s, q, c in zip(states, joints, cubes)]


def _read_streams(bag: Path, image_topic: str) -> Dict[str, list]:
    """(time in s, message) per known topic, in time order; joint states as positions ordered
    like the model (by joint name when names are given)."""
    from so101_description.model import JOINT_NAMES

    raw_streams: Dict[str, list] = {name: [] for name in [*TOPICS, 'image']}
    with open_bag(bag) as reader:
        wanted = {c.id: _stream_of(c.topic) for c in reader.connections}
        wanted[_image_connection(reader, bag, image_topic).id] = 'image'
        connections = [c for c in reader.connections if wanted[c.id]]
        for connection, timestamp, msg in messages(reader, connections):
            name = wanted[connection.id]
            stamp = _stamp_s(msg)
            if name in ('follower', 'leader'):
                msg = _joint_positions(msg, JOINT_NAMES)
                if msg is None:
                    continue
            raw_streams[name].append((timestamp * 1e-9, stamp, msg))
    return _on_one_clock(raw_streams)


def _stamp_s(msg) -> Optional[float]:
    # Seconds plus fraction, as ticks are counted: a stamp on a tick lands exactly on it.
    stamp = stamp_ns(msg)
    return None if stamp is None else stamp // NS_PER_S + (stamp % NS_PER_S) * 1e-9


def _image_connection(reader, bag: Path, wanted: str):
    """The wrist image topic's connection: `wanted`, else the first of the camera's topics."""
    for suffix in [wanted] if wanted else image_topics():
        connection = connection_of(reader, suffix, bag, layout.IMAGE_TYPES)
        if connection is not None:
            return connection
    raise ValueError(f'demo recording {bag} has no {wanted or layout.image_proc()} messages')


def _on_one_clock(raw_streams: Dict[str, list]) -> Dict[str, list]:
    """Every message on the header-stamp clock, sorted: messages without a stamp get the stamp
    that the joint states had at their recording time."""
    reference = [(log, stamp) for log, stamp, _ in raw_streams['follower'] if stamp is not None]
    logs = np.array([log for log, _ in reference])
    stamps = np.array([stamp for _, stamp in reference])
    streams = {}
    for name, entries in raw_streams.items():
        timed = []
        for log, stamp, msg in entries:
            if stamp is None:
                stamp = float(np.interp(log, logs, stamps) if len(logs) else log)
            timed.append((stamp, msg))
        streams[name] = sorted(timed, key=lambda item: item[0])
    return streams


def _stream_of(topic: str) -> Optional[str]:
    # Longest suffix first: 'leader/joint_states' must not be taken for 'joint_states'.
    for name, suffix in sorted(TOPICS.items(), key=lambda item: -len(item[1])):
        if topic == suffix or topic.endswith('/' + suffix):
            return name
    return None


def _joint_positions(msg, joint_names) -> Optional[np.ndarray]:
    positions = np.asarray(msg.position, float)
    if list(msg.name):
        index = {n: i for i, n in enumerate(msg.name)}
        if not all(n in index for n in joint_names):
            return None
        positions = positions[[index[n] for n in joint_names]]
    if positions.shape != (6,) or not np.all(np.isfinite(positions)):
        return None
    return positions


def _newest_at(stream: list, ticks: np.ndarray) -> list:
    """For every tick the newest message at or before it (None before the first)."""
    if not stream:
        return [None] * len(ticks)
    times = np.array([t for t, _ in stream])
    index = np.searchsorted(times, ticks, side='right') - 1
    return [stream[i][1] if i >= 0 else None for i in index]


def _image(msg, bag: Path) -> np.ndarray:
    try:
        return np.ascontiguousarray(processed_image(msg))
    except ValueError as error:
        raise ValueError(f'demo recording {bag}: {error}') from None


def _cache_path(bag: Path, cache_dir: str, settings: DemoSettings) -> Path:
    digest = hashlib.sha256(f'{settings.key()}-label{_labelled_success_frame(bag)}'.encode())
    files = sorted(p for p in bag.rglob('*') if p.is_file()) if bag.is_dir() else [bag]
    for path in files:
        stat = path.stat()
        digest.update(f'{path.name}:{stat.st_size}:{stat.st_mtime_ns}'.encode())
    directory = Path(cache_dir) if cache_dir else bag.resolve().parent / '.demo_cache'
    return directory / f'{bag.name}-{digest.hexdigest()[:16]}.npz'


def _unstack(columns: Dict[str, np.ndarray]) -> List[Transition]:
    return [Transition(state=columns['state'][i], image=columns['image'][i],
                       action=columns['action'][i],
                       gripper_action=int(columns['gripper_action'][i]),
                       reward=float(columns['reward'][i]), next_state=columns['next_state'][i],
                       next_image=columns['next_image'][i],
                       terminated=bool(columns['terminated'][i]),
                       truncated=bool(columns['truncated'][i]),
                       is_intervention=bool(columns['is_intervention'][i]))
            for i in range(len(columns['reward']))]
