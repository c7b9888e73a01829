"""Auto-labelled classifier datasets from the MuJoCo simulation, without ROS or a person.

Each episode runs the simulation's scripted grasp-and-lift in-process, writes the frames a real
recording would hold (wrist_camera/image_proc, joint_states) as a rosbag2 MCAP bag, and labels
every frame from the simulation's privileged success state. Episodes vary on purpose so the
classifier sees the cases a policy would exploit:
  - success: grasp and lift (the frames before the lift are failures, the boundary is the lift);
  - miss: the grasp aims a few cm off, closes on air and lifts an empty gripper;
  - drop: grasp, lift, then open the jaws so the cube falls (success, then failure again);
  - low: grasp and hold the cube just below the success height (failure throughout).
The lift height varies per episode: a policy ends its episode as soon as the cube is up by the
success height, so the classifier must know cubes held just above it, not only the script's
full lift (with full lifts only, a policy's real successes scored 0.5-0.83 and were missed),
and cubes held just below it (without those, 10 of 12 rewarded training episodes had the cube
grasped but not lifted by the success height).
"""
import dataclasses
import time
from pathlib import Path
from typing import List

import numpy as np

from hilserl_common.bags import EpisodeBagWriter
from hilserl_common.preprocessing import preprocess
from reward_classifier.data.bags import PROCESSED_TOPIC
from reward_classifier.data.labels import labels_from_success_flags, write_labels
from so101_description.cameras import CAMERAS

SUCCESS, MISS, DROP, LOW = 'success', 'miss', 'drop', 'low'
_EPOCH_NS = 1_700_000_000 * 1_000_000_000   # recordings need a plausible wall-clock stamp
_EPISODE_SPACING_NS = 100 * 1_000_000_000


@dataclasses.dataclass(frozen=True)
class EpisodePlan:
    """What one generated episode does; everything random is drawn here, from the seed."""
    scene_seed: int
    kind: str
    start_delay_steps: int            # the arm waits at the reset pose first
    miss_offset_m: tuple = (0.0, 0.0)  # x, y added to the cube position the script aims at
    drop_after_steps: int = 0         # steps after reaching the hold before the jaws open
    lift_height_m: float = 0.12       # EE height the script lifts the cube to
    carry_m: tuple = ()               # places the lifted hand goes to next (GraspAttempt.carry_m)


# EE heights of the lift (m); the cube's centre is level with the EE, its bottom 1.25 cm lower
# (less the servos' sag). Success (config/sim.yaml success_lift_m) is the bottom 3 cm up. Low
# holds reach up to just below it (EE 4.1 cm: the bottom about 3.0 cm up at most, labelled by the
# simulation all the same): the false successes of policies were cubes held 2.85-2.88 cm up,
# and with low holds only up to EE 3.5 cm (bottom 2.3 cm) the classifier scored them 0.99.
LIFT_HEIGHTS_M = {SUCCESS: (0.05, 0.12), DROP: (0.05, 0.12), MISS: (0.05, 0.12),
                  LOW: (0.025, 0.041)}


def plan_episodes(count: int, seed: int, failure_fraction: float,
                  drop_fraction: float = 0.25, low_fraction: float = 0.25,
                  max_delay_steps: int = 15, carry_places: int = 0) -> List[EpisodePlan]:
    """`count` plans: round(count * failure_fraction) misses, a share of the rest drops and
    one of low lifts, shuffled, each with its own scene seed and start delay; every lift but
    the low ones then carries the hand to `carry_places` places (drawn from a stream of their
    own, so the rest of a plan does not depend on them)."""
    rng = np.random.default_rng(seed)
    carry_rng = np.random.default_rng([seed, 1])
    misses = int(round(count * failure_fraction))
    drops = int(round((count - misses) * drop_fraction))
    lows = int(round((count - misses) * low_fraction))
    kinds = rng.permutation([MISS] * misses + [DROP] * drops + [LOW] * lows +
                            [SUCCESS] * (count - misses - drops - lows))
    plans = []
    for number, kind in enumerate(kinds):
        angle = rng.uniform(0, 2 * np.pi)
        distance = rng.uniform(0.04, 0.06)
        plans.append(EpisodePlan(
            scene_seed=int(seed * 100_003 + number), kind=str(kind),
            start_delay_steps=int(rng.integers(0, max_delay_steps + 1)),
            miss_offset_m=(distance * np.cos(angle), distance * np.sin(angle))
            if kind == MISS else (0.0, 0.0),
            drop_after_steps=int(rng.integers(3, 12)) if kind == DROP else 0,
            lift_height_m=float(rng.uniform(*LIFT_HEIGHTS_M[str(kind)]))))
    if carry_places:
        from so101_sim.scripted_grasp import draw_carry
        plans = [dataclasses.replace(plan, carry_m=draw_carry(
            carry_rng, carry_places, plan.lift_height_m, LIFT_HEIGHTS_M[plan.kind]))
            if plan.kind != LOW else plan for plan in plans]
    return plans




@dataclasses.dataclass
class RecordedEpisode:
    frames: np.ndarray       # N x V x 128 x 128 x 3 uint8 (CAMERAS: every camera of the cell)
    joints: np.ndarray       # N x 6 rad
    velocities: np.ndarray   # N x 6 rad/s
    success: np.ndarray      # N bool, privileged
    times_s: np.ndarray      # N, simulation time of each frame
    grasp: list              # N privileged GraspInfo (so101_sim.cell)


def run_episode(cell, script, plan: EpisodePlan, steps: int,
                control_period_s: float) -> RecordedEpisode:
    """One episode on a SimulatedCell with a ScriptedGrasp: a frame, the joints and the
    privileged success after every control step."""
    from so101_sim.scripted_grasp import GraspAttempt

    cell.reset(seed=plan.scene_seed)
    script.config = dataclasses.replace(script.config, lift_height_m=plan.lift_height_m)
    script.reset(cell.joint_positions(), attempt=GraspAttempt(
        aim_offset_m=plan.miss_offset_m,
        drop_after_steps=plan.drop_after_steps if plan.kind == DROP else None,
        carry_m=plan.carry_m))
    frames, joints, velocities, grasp, times = [], [], [], [], []
    for step in range(steps):
        if step >= plan.start_delay_steps:
            targets = script.step(cell.joint_positions(), cell.cube_position())
            if targets is not None:
                cell.set_joint_targets(targets)
        cell.step(control_period_s)
        frames.append(np.stack([preprocess(cell.render(camera)) for camera in CAMERAS]))
        joints.append(cell.joint_positions())
        velocities.append(cell.joint_velocities())
        grasp.append(cell.grasp_info())
        times.append(cell.time_s)
    return RecordedEpisode(np.stack(frames), np.stack(joints), np.stack(velocities),
                           np.array([g.success for g in grasp], bool), np.array(times), grasp)


def write_episode(path: Path, episode: RecordedEpisode, start_ns: int, namespace: str = ''):
    from so101_description.model import JOINT_NAMES

    with EpisodeBagWriter(path, namespace, grasp_state=True, cameras=CAMERAS) as writer:
        for frame, joints, velocities, grasp, time_s in zip(
                episode.frames, episode.joints, episode.velocities, episode.grasp,
                episode.times_s):
            stamp_ns = start_ns + int(round(time_s * 1e9))
            writer.write_joint_state(stamp_ns, JOINT_NAMES, joints, velocities)
            writer.write_grasp_state(stamp_ns, grasp.cube_position, grasp.cube_quat_wxyz,
                                     grasp.gripper_contact, grasp.grasped, grasp.cube_height,
                                     grasp.success)
            for camera, image in zip(CAMERAS, frame):
                writer.write_image(stamp_ns, image, camera)


def generate_dataset(output: Path, episodes: int, seed: int, failure_fraction: float,
                     steps: int, namespace: str = '', control_rate_hz: float = 10.0,
                     log=print, carry_places: int = 0) -> str:
    """Write `episodes` bags and labels.yaml into `output`; returns a one-line summary."""
    from so101_kinematics.kinematics import Kinematics
    from so101_sim.cell import SimulatedCell
    from so101_sim.config import CellConfig
    from so101_sim.scripted_grasp import ScriptedGrasp

    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f'{output} is not empty; generate into a new folder')
    output.mkdir(parents=True, exist_ok=True)
    plans = plan_episodes(episodes, seed, failure_fraction, carry_places=carry_places)
    labels, kinds, positives, frames = [], {}, 0, 0
    started = time.monotonic()
    with SimulatedCell(CellConfig(seed=seed)) as cell:
        script = ScriptedGrasp(Kinematics())
        for number, plan in enumerate(plans):
            name = f'episode_{number:04d}'
            episode = run_episode(cell, script, plan, steps, 1.0 / control_rate_hz)
            write_episode(output / name, episode, _EPOCH_NS + number * _EPISODE_SPACING_NS,
                          namespace)
            labels.append(labels_from_success_flags(name, episode.success))
            kinds[plan.kind] = kinds.get(plan.kind, 0) + 1
            positives += int(episode.success.sum())
            frames += len(episode.success)
            log(f'{name}: {plan.kind:7s} {labels[-1].to_dict()}')
    topic = ('/' + namespace.strip('/') + '/' if namespace.strip('/') else '/') + PROCESSED_TOPIC
    write_labels(output / 'labels.yaml', labels, image_topic=topic)
    return (f'wrote {episodes} episodes ({", ".join(f"{v} {k}" for k, v in kinds.items())}), '
            f'{frames} frames, {positives} success ({100.0 * positives / max(frames, 1):.1f}%) '
            f'to {output} in {time.monotonic() - started:.0f} s')
