"""The reward gate on states of the real simulated cell: a scripted grasp holding the cube below
the success height, lifting it past it, and jaws closed on nothing."""
import dataclasses

import numpy as np
import pytest

from hilserl_actor.reward_gate import RewardGate, RewardGateConfig
from so101_description.model import GRIPPER_INDEX
from so101_kinematics.kinematics import Kinematics
from so101_sim.cell import SimulatedCell
from so101_sim.config import CellConfig
from so101_sim.scripted_grasp import ScriptedGrasp


@pytest.fixture(scope='module')
def kinematics():
    return Kinematics()


def held_at(kinematics, lift_height_m, seed=0, steps=45):
    """Joints and the simulation's success after a scripted grasp lifted the cube to an EE
    height of `lift_height_m` and held it there."""
    with SimulatedCell(CellConfig(seed=seed), render=False) as cell:
        cell.reset(seed)
        script = ScriptedGrasp(kinematics)
        script.config = dataclasses.replace(script.config, lift_height_m=lift_height_m)
        script.reset(cell.joint_positions())
        for _ in range(steps):
            targets = script.step(cell.joint_positions(), cell.cube_position())
            if targets is not None:
                cell.set_joint_targets(targets)
            cell.step(0.1)
        return cell.joint_positions(), cell.grasp_info()


@pytest.mark.parametrize('seed', [0, 3])
def test_a_cube_held_below_the_success_height_is_refused(kinematics, seed):
    joints, info = held_at(kinematics, 0.027, seed)  # the cube's bottom ~1.5 cm up
    assert info.grasped and not info.success
    refusal = RewardGate(RewardGateConfig(), kinematics).refusal(joints)
    assert 'cm high' in refusal


@pytest.mark.parametrize('seed', [0, 3])
def test_a_lifted_cube_passes(kinematics, seed):
    joints, info = held_at(kinematics, 0.08, seed)
    assert info.success
    assert RewardGate(RewardGateConfig(), kinematics).refusal(joints) == ''


def test_jaws_closed_on_nothing_are_refused_even_high_up(kinematics):
    with SimulatedCell(CellConfig(), render=False) as cell:
        joints = cell.joint_positions()
        joints[GRIPPER_INDEX] = -0.17
        for _ in range(10):
            cell.set_joint_targets(joints)
            cell.step(0.1)
        measured = cell.joint_positions()
    assert kinematics.position(measured)[2] > 0.045  # the reset pose is high enough
    refusal = RewardGate(RewardGateConfig(), kinematics).refusal(measured)
    assert 'closed on nothing' in refusal


def test_the_gate_can_be_switched_off_and_refuses_unusable_joints(kinematics):
    assert RewardGate(RewardGateConfig(reward_gate=False), kinematics).refusal(None) == ''
    gate = RewardGate(RewardGateConfig(), kinematics)
    assert gate.refusal(np.full(6, np.nan)) == 'no usable joint reading'


@pytest.mark.parametrize('gripper, passes', [(-0.19, False), (-0.17, False), (-0.15, True),
                                             (-0.11, True), (0.02, True), (0.8, False)])
def test_the_jaws_pass_where_they_hold_the_cube_in_the_simulation(kinematics, gripper, passes):
    """Holds measured in a training run: -0.15 and -0.11 (by an edge, near the jaw tips) and
    0.00-0.05 (across the faces); closed on nothing: -0.17 to -0.19; open: 0.8."""
    joints = np.array([0.0, -0.6, 0.3, 1.5, 0.0, gripper])  # the EE ~12 cm up
    assert (RewardGate(RewardGateConfig(), kinematics).refusal(joints) == '') == passes
