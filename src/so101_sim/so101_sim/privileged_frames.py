"""Camera frames of the simulated cell labelled with what only the simulation knows, for
pretraining the image encoder (hilserl_learner.networks.pretraining). A simulation-only aid: on
the real arm the encoder's weights come from a file (ImageNet ResNet-10), never from this.

Episodes mix what a learning policy shows the camera: scripted grasps (some aimed a few cm off,
lifted to varied heights, some with the jaws opening again) and wandering with random EE steps
and gripper commands. Every control step gives one frame per camera and the labels.
"""
import dataclasses
from typing import Dict, Sequence

import numpy as np

from hilserl_common.preprocessing import preprocess
from so101_description.cameras import CAMERAS
from so101_description.model import GRIPPER_INDEX
from so101_kinematics.ee_control import EEController
from so101_kinematics.kinematics import Kinematics
from so101_sim.cell import SimulatedCell
from so101_sim.config import CellConfig
from so101_sim.scripted_grasp import GraspScriptConfig, ScriptedGrasp

# label name -> kind: what the encoder is taught to see
LABELS = {'cube_offset_x': 'value', 'cube_offset_y': 'value', 'cube_offset_z': 'value',
          'cube_lift': 'value', 'gripper': 'value', 'contact': 'flag', 'grasped': 'flag'}
OFFSET_SCALE_M = 0.1  # offsets and lift in units of 10 cm: targets of order 1


@dataclasses.dataclass(frozen=True)
class FramePlan:
    episodes: int = 120
    steps: int = 40
    wander_fraction: float = 0.3     # episodes of random EE steps instead of a grasp
    miss_fraction: float = 0.3       # grasps aimed 2-6 cm off the cube
    seed: int = 0


def labels_of(kinematics: Kinematics, joints: np.ndarray, info) -> np.ndarray:
    """The label vector (LABELS order) of one state."""
    offset = (info.cube_position - kinematics.position(joints)) / OFFSET_SCALE_M
    return np.array([*offset, info.cube_height / OFFSET_SCALE_M, joints[GRIPPER_INDEX],
                     float(info.gripper_contact), float(info.grasped)], np.float32)


def generate_frames(plan: FramePlan, cell_config: CellConfig = CellConfig(),
                    cameras: Sequence[str] = CAMERAS, log=print) -> Dict[str, np.ndarray]:
    """{'images': (N, V, 128, 128, 3) uint8 (V cameras), 'labels': (N, len(LABELS))}."""
    rng = np.random.default_rng(plan.seed)
    kinematics = Kinematics()
    images, labels = [], []
    with SimulatedCell(dataclasses.replace(cell_config, seed=plan.seed)) as cell:
        for episode in range(plan.episodes):
            cell.reset(int(rng.integers(0, 2**31 - 1)))
            act = _behaviour(kinematics, cell, rng, plan)
            for _ in range(plan.steps):
                targets = act()
                if targets is not None:
                    cell.set_joint_targets(targets)
                cell.step(0.1)
                joints = cell.joint_positions()
                images.append(np.stack([preprocess(cell.render(name)) for name in cameras]))
                labels.append(labels_of(kinematics, joints, cell.grasp_info()))
            if (episode + 1) % 20 == 0:
                log(f'privileged frames: {episode + 1}/{plan.episodes} episodes')
    return {'images': np.stack(images), 'labels': np.stack(labels)}


def _behaviour(kinematics: Kinematics, cell: SimulatedCell, rng: np.random.Generator,
               plan: FramePlan):
    """A step function giving the next joint targets of one episode's behaviour."""
    if rng.random() < plan.wander_fraction:
        return _wander(kinematics, cell, rng)
    config = GraspScriptConfig(lift_height_m=float(rng.uniform(0.03, 0.12)))
    script = ScriptedGrasp(kinematics, config)
    script.reset(cell.joint_positions())
    miss = np.zeros(3)
    if rng.random() < plan.miss_fraction:
        angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(0.02, 0.06)
        miss[:2] = distance * np.cos(angle), distance * np.sin(angle)
    release_at = int(rng.integers(20, 60)) if rng.random() < 0.25 else None
    step = {'count': 0}

    def act():
        step['count'] += 1
        targets = script.step(cell.joint_positions(), cell.cube_position() + miss)
        if targets is not None and release_at is not None and step['count'] >= release_at:
            targets = np.array(targets, dtype=float)
            targets[GRIPPER_INDEX] = config.gripper_open_rad
        return targets
    return act


def _wander(kinematics: Kinematics, cell: SimulatedCell, rng: np.random.Generator):
    controller = EEController(kinematics)
    controller.reset(cell.joint_positions())
    state = {'gripper': 0.8, 'direction': rng.uniform(-1, 1, 3)}

    def act():
        if rng.random() < 0.2:
            state['direction'] = rng.uniform(-1, 1, 3)
        if rng.random() < 0.1:
            state['gripper'] = float(rng.choice([-0.17, 0.8]))
        result = controller.step(state['direction'] * 0.02, cell.joint_positions(),
                                 state['gripper'])
        return result.joints if result.commandable else None
    return act
