"""A human step's stored action means what a policy step's does (so101_kinematics.action_space):
executed through the policy's path, the EE controller, from the same physical state of the
simulated cell, it reproduces the EE motion the human made, as closely as the controller
realises its own commands. The actor's episode loop runs on the cell with the simulated operator:
whole demonstrations (record mode) and short corrections of a drifting policy (train mode)."""
import dataclasses

import numpy as np
import pytest

from hilserl_actor.config import ActorConfig
from hilserl_actor.episode import EpisodeLoop, Snapshot
from so101_description.model import GRIPPER_INDEX
from so101_kinematics.action_space import action_to_ee_delta, gripper_target
from so101_kinematics.ee_control import EEController
from so101_kinematics.kinematics import Kinematics
from so101_kinematics.reset import ResetConfig, ik_reset
from so101_sim.cell import SimulatedCell
from so101_sim.config import CellConfig
from so101_sim.operator import OperatorConfig, SimulatedOperator

# The EE controller's own accuracy on the simulated cell: how far the realised EE motion of a
# policy step lands from its commanded delta (norm of the difference). Measured with
# benchmarks/sim_kinematics.py (bench_controller_accuracy): a random smooth policy through the
# EEController from the IK reset, 20 episodes of 60 steps, 937 steps counted (not the first 5
# of an episode, nor steps whose reference the bounds or the leash held back):
# p50 1.7 mm, p95 3.9 mm, p99 7.5 mm (the same over 40 episodes).
CONTROLLER_P95_MM = 3.9
PERIOD_S = 0.1
IMAGE = np.zeros((128, 128, 3), np.uint8)
SETTLE_STEPS = 12  # the controller's integral (gain 0.3) is within 2% of its final value


@dataclasses.dataclass
class HumanStep:
    physics: np.ndarray   # the cell's state when the step began
    joints: np.ndarray    # measured then
    leader: np.ndarray
    action: np.ndarray    # stored
    gripper: int
    motion: np.ndarray    # the follower's EE motion over the step (m)


class DriftingPolicy:
    """Sideways and up, away from the cube: the operator corrects it."""
    version = acting_version = 0

    def __call__(self, state, image, deterministic):
        return np.array([0.0, 0.6, 0.4]), 1


@pytest.fixture(scope='module')
def kinematics():
    return Kinematics()


@pytest.fixture(scope='module')
def cell():
    with SimulatedCell(CellConfig(), render=False) as simulated:
        yield simulated


def human_steps(cell, kinematics, loop, operator, seed, steps):
    """Runs the episode loop on the cell as the in-process harness does; the human steps, each
    with the physical state it began in."""
    cell.reset(seed=seed)
    ik_reset(kinematics, ResetConfig(), cell.joint_positions, cell.set_joint_targets,
             lambda: cell.step(PERIOD_S), np.random.default_rng(seed))
    loop.begin(cell.joint_positions())
    operator.new_episode()
    found, began = [], None
    for _ in range(steps):
        joints, now = cell.joint_positions(), cell.time_s
        still = bool(np.all(np.abs(cell.joint_velocities()) < 0.05))
        lead = operator.tick(joints, cell.grasp_info().cube_position, still)
        result = loop.step(Snapshot(now, joints, now, IMAGE, now, False, now,
                                    lead.leader_joints, lead.intervention, leader_time_s=now))
        transition = result.transition
        if transition is not None and transition.is_intervention:
            motion = kinematics.position(joints) - kinematics.position(began[1])
            found.append(HumanStep(*began, transition.action, transition.gripper_action, motion))
        if result.done:
            break
        began = (cell.save_state(), joints, lead.leader_joints)
        if result.command is not None:
            cell.set_joint_targets(result.command)
        cell.step(PERIOD_S)
    return found


def settled_integral(cell, kinematics, step):
    """The controller's integral after policy steps holding the arm here: its estimate of the
    servos' sag at this pose. A controller fresh from reset() has none, so its first steps sink
    by the sag (up to ~1 cm), whatever the action."""
    cell.restore_state(step.physics)
    controller = EEController(kinematics)
    controller.reset(step.joints)
    for _ in range(SETTLE_STEPS):
        joints = cell.joint_positions()
        cell.set_joint_targets(controller.step(np.zeros(3), joints, joints[GRIPPER_INDEX]).joints)
        cell.step(PERIOD_S)
    return controller.integral.copy()


def policy_path_motion(cell, kinematics, config, step, action, integral):
    """The EE motion the actor's policy path makes of `action` from the step's physical state:
    the EE controller with its reference at the arm (as at a hand-over) and a settled integral,
    the gripper as the episode loop sets it."""
    cell.restore_state(step.physics)
    controller = EEController(kinematics)
    controller.reset(step.joints)
    controller.integral = integral
    gripper = gripper_target(step.gripper, step.joints[GRIPPER_INDEX],
                             config.gripper_closed_rad, config.gripper_open_rad)
    result = controller.step(action_to_ee_delta(action, config.action_scale), step.joints,
                             gripper)
    cell.set_joint_targets(result.joints)
    cell.step(PERIOD_S)
    return kinematics.position(cell.joint_positions()) - kinematics.position(step.joints)


def leader_offset(kinematics, config, step):
    """The former definition: the leader's EE offset from the follower, in action units."""
    offset = kinematics.position(step.leader) - kinematics.position(step.joints)
    return np.clip(offset / config.action_scale, -1.0, 1.0)


def reproduction_errors_mm(cell, kinematics, config, steps, *definitions):
    """|policy path's motion - human's motion| (mm) per definition of the stored action (rows)
    and step (columns)."""
    errors = np.zeros((len(definitions), len(steps)))
    for column, step in enumerate(steps):
        integral = settled_integral(cell, kinematics, step)
        for row, stored in enumerate(definitions):
            made = policy_path_motion(cell, kinematics, config, step, stored(step), integral)
            errors[row, column] = np.linalg.norm(made - step.motion) * 1000
    return errors


def test_a_human_step_through_the_policys_path_makes_the_humans_motion(cell, kinematics):
    config = ActorConfig()
    demonstrating = SimulatedOperator(kinematics, OperatorConfig(mode='demo'))
    correcting = SimulatedOperator(kinematics, OperatorConfig(
        mode='corrections', explore_steps=5, correction_probability=1.0, seed=1))
    steps = []
    for mode, operator, seed in (('record', demonstrating, 11), ('train', correcting, 12)):
        loop = EpisodeLoop(dataclasses.replace(config, mode=mode), kinematics, DriftingPolicy())
        steps += human_steps(cell, kinematics, loop, operator, seed, 60)
    # Motions an action can express (a clipped one cannot make a larger motion, by design),
    # and no still steps (they would flatter the figures).
    moving = [s for s in steps
              if np.all(np.abs(s.action) < 0.99) and np.linalg.norm(s.motion) > 0.002]
    assert len(moving) >= 40, f'{len(moving)} of {len(steps)} human steps'
    errors, former = reproduction_errors_mm(
        cell, kinematics, config, moving, lambda s: s.action,
        lambda s: leader_offset(kinematics, config, s))
    # The controller makes 95% of its own steps within CONTROLLER_P95_MM; the replay's
    # controller is rebuilt (reference at the arm, settled integral), hence 90% here.
    # Measured: 94% (median 1.6 mm); 91-97% over six other pairs of seeds.
    within = np.mean(errors <= CONTROLLER_P95_MM)
    assert within >= 0.9, (f'{within:.0%} of {len(moving)} human steps reproduced within '
                           f'{CONTROLLER_P95_MM} mm; errors (mm) {np.round(errors, 1)}')
    # The tolerance tells the definitions apart: the leader's offset from the follower (the
    # former intervention action) holds the operator's lead and the sag (measured: 3%).
    assert np.mean(former <= CONTROLLER_P95_MM) < 0.5
