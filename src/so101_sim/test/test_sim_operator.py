"""The simulated operator's protocol (corrections, not takeovers): explore first, short nudges
only when the policy drifts, a budget per episode, and full scripted demonstrations in demo mode."""
import dataclasses

import numpy as np
import pytest

from so101_kinematics.kinematics import Kinematics
from so101_kinematics.reset import ResetConfig, ik_reset
from so101_sim.cell import SimulatedCell
from so101_sim.config import CellConfig
from so101_sim.operator import OperatorConfig, OperatorState, SimulatedOperator
from so101_sim.scripted_grasp import Phase


@pytest.fixture(scope='module')
def cell():
    with SimulatedCell(CellConfig(), render=False) as simulated:
        yield simulated


@pytest.fixture(scope='module')
def kinematics():
    return Kinematics()


def start_episode(cell, kinematics, seed):
    cell.reset(seed=seed)
    ik_reset(kinematics, ResetConfig(), cell.joint_positions, cell.set_joint_targets,
             lambda: cell.step(0.1), np.random.default_rng(seed))


def run_episode(cell, operator, policy, steps=100):
    """The actor's part: the follower mirrors the leader under intervention, else the policy."""
    flags = []
    operator.new_episode()
    for _ in range(steps):
        out = operator.tick(cell.joint_positions(), cell.grasp_info().cube_position,
                            follower_still=bool(np.all(np.abs(cell.joint_velocities()) < 0.05)))
        flags.append(out.intervention)
        cell.set_joint_targets(out.leader_joints if out.intervention else policy(cell))
        cell.step(0.1)
    return np.array(flags)


def drifting_policy(cell):
    """A policy that wanders off sideways and up, away from the cube."""
    joints = cell.joint_positions()
    return joints + np.array([0.03, -0.02, 0.0, 0.0, 0.0, 0.0])


def corrections(**overrides):
    config = OperatorConfig(mode='corrections', episode_correction_probability=1.0,
                            correction_probability=1.0)
    return dataclasses.replace(config, **overrides)


def test_nudges_are_short_late_and_within_budget(cell, kinematics):
    config = corrections(explore_steps=20, correction_steps=8, max_corrections_per_episode=2)
    operator = SimulatedOperator(kinematics, config)
    start_episode(cell, kinematics, 0)
    flags = run_episode(cell, operator, drifting_policy)
    assert not flags[:config.explore_steps].any()  # the policy explores alone first
    starts = np.flatnonzero(np.diff(flags.astype(int)) == 1) + 1
    assert 1 <= len(starts) <= config.max_corrections_per_episode
    lengths = [np.argmin(flags[s:]) for s in starts]
    assert all(length == config.correction_steps for length in lengths)
    assert flags.sum() <= config.max_intervention_fraction * 100
    assert operator.corrections == len(starts)


def test_a_nudge_brings_the_jaws_towards_the_cube(cell, kinematics):
    operator = SimulatedOperator(kinematics, corrections(correction_steps=8))
    start_episode(cell, kinematics, 1)
    for _ in range(25):  # drift away first
        cell.set_joint_targets(drifting_policy(cell))
        cell.step(0.1)
    cube = cell.grasp_info().cube_position
    before = operator._jaw_distance(cell.joint_positions(), cube)
    operator.new_episode()
    operator.step = 100  # past exploration
    operator._distances.extend([before] * 11)
    out = None
    for _ in range(8):
        out = operator.tick(cell.joint_positions(), cube)
        assert out.intervention
        cell.set_joint_targets(out.leader_joints)
        cell.step(0.1)
    after = operator._jaw_distance(cell.joint_positions(), cube)
    assert after < before - 0.03
    assert not operator.tick(cell.joint_positions(), cube).intervention  # then it lets go


def test_no_nudge_while_the_policy_makes_progress(cell, kinematics):
    from so101_sim.scripted_grasp import ScriptedGrasp
    operator = SimulatedOperator(kinematics, corrections(explore_steps=0))
    start_episode(cell, kinematics, 2)
    script = ScriptedGrasp(kinematics)
    script.reset(cell.joint_positions())
    competent = lambda c: script.step(c.joint_positions(), c.grasp_info().cube_position)  # noqa
    flags = run_episode(cell, operator, competent, steps=30)
    assert not flags.any()
    assert cell.grasp_info().success


def test_episodes_without_corrections_and_mode_off(cell, kinematics):
    for config in (corrections(episode_correction_probability=0.0),
                   OperatorConfig(mode='off')):
        operator = SimulatedOperator(kinematics, config)
        start_episode(cell, kinematics, 3)
        flags = run_episode(cell, operator, drifting_policy, steps=60)
        assert not flags.any()


def test_the_operator_hands_over_to_a_policy_that_succeeds(cell, kinematics):
    """The nudge chance follows the share of recent training episodes that failed: none seen
    yet counts as failing, evaluations count for nothing, a run of successes means no nudge
    even while the policy drifts, and failures bring the corrections back."""
    operator = SimulatedOperator(kinematics, corrections(handover_episodes=4))
    assert operator.failing_share == 1.0
    for _ in range(4):
        operator.episode_ended('train', True)
    operator.episode_ended('eval', False)  # an evaluation episode
    assert operator.failing_share == 0.0
    start_episode(cell, kinematics, 5)
    assert not run_episode(cell, operator, drifting_policy, steps=60).any()
    operator.episode_ended('train', False)
    operator.episode_ended('train', False)
    assert operator.failing_share == 0.5
    start_episode(cell, kinematics, 5)
    assert run_episode(cell, operator, drifting_policy, steps=60).any()
    always = SimulatedOperator(kinematics, corrections(handover_episodes=0))
    for _ in range(4):
        always.episode_ended('train', True)
    assert always.failing_share == 1.0


def test_leader_follows_the_follower_when_not_intervening(kinematics):
    operator = SimulatedOperator(kinematics, OperatorConfig(mode='off'))
    follower = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    out = operator.tick(follower, [0.25, 0.0, 0.0125])
    np.testing.assert_allclose(out.leader_joints, follower)
    assert operator.tick([np.nan] * 6, [0.25, 0.0, 0.0125]) is None


def test_demo_mode_waits_for_the_reset_then_grasps_and_lifts(cell, kinematics):
    operator = SimulatedOperator(kinematics, OperatorConfig(mode='demo', demo_settle_steps=3))
    cell.reset(seed=5)
    operator.new_episode()
    # The actor's IK reset runs first; the operator waits while the follower moves.
    flags = []
    rng = np.random.default_rng(5)

    def wait():
        cell.step(0.1)
        flags.append(operator.tick(cell.joint_positions(), cell.grasp_info().cube_position,
                                   follower_still=False).intervention)
    ik_reset(kinematics, ResetConfig(), cell.joint_positions, cell.set_joint_targets, wait, rng)
    assert not any(flags)
    flags = run_episode_without_new(cell, operator, steps=50)
    assert flags[-1] or operator.state is OperatorState.WAITING
    assert flags.sum() >= 10
    assert cell.grasp_info().success


def run_episode_without_new(cell, operator, steps):
    flags = []
    for _ in range(steps):
        out = operator.tick(cell.joint_positions(), cell.grasp_info().cube_position,
                            follower_still=bool(np.all(np.abs(cell.joint_velocities()) < 0.05)))
        flags.append(out.intervention)
        if out.intervention:
            cell.set_joint_targets(out.leader_joints)
        cell.step(0.1)
    return np.array(flags)


def test_a_correction_pushes_the_arm_on_from_where_it_is_instead_of_lifting_it(cell,
                                                                               kinematics):
    """Low over the table beside the cube, a nudge moves it over the cube and down; the
    demonstration's approach from there would first lift the EE to the hover height."""
    from so101_sim.scripted_grasp import Phase, ScriptedGrasp
    start_episode(cell, kinematics, seed=3)
    cube = cell.grasp_info().cube_position
    low = kinematics.inverse(cube + np.array([-0.05, 0.03, 0.05]), cell.joint_positions(),
                             max_iterations=200).joints
    for _ in range(20):
        cell.set_joint_targets(low)
        cell.step(0.1)
    start_height = kinematics.position(cell.joint_positions())[2]
    heights = {}
    for correction in (True, False):
        script = ScriptedGrasp(kinematics)
        script.reset(cell.joint_positions(), correction=correction)
        waypoint = script._waypoint(cube - kinematics.closing_axis(cell.joint_positions())
                                    * script.config.grasp_offset_m)
        heights[correction] = waypoint[2]
        assert script.phase is Phase.APPROACH
    assert heights[True] <= start_height + 1e-6 < heights[False], (heights, start_height)


def demonstrate(cell, kinematics, operator, seed, steps=100, eyes=None):
    """One recorded episode as the actor runs it: the follower mirrors the leader until the
    operator marks the episode (the actor ends it there). Returns the mark and what the
    simulation saw: ever lifted (success), lifted at the end."""
    start_episode(cell, kinematics, seed)
    operator.new_episode()
    lifted = []
    for _ in range(steps):
        seen = cell.grasp_info().success
        out = operator.tick(cell.joint_positions(), cell.grasp_info().cube_position,
                            bool(np.all(np.abs(cell.joint_velocities()) < 0.05)),
                            cube_lifted=seen if eyes is None else eyes(seen))
        lifted.append(seen)
        if out.mark:
            return out.mark, any(lifted), seen
        cell.set_joint_targets(out.leader_joints)
        cell.step(0.1)
    return '', any(lifted), lifted[-1]


@pytest.mark.parametrize('kind, ever_lifted', [('success', True), ('near_miss', False),
                                               ('drop', True), ('closed_on_air', False)])
def test_each_demonstration_kind_is_performed_and_marked_as_a_person_would(cell, kinematics,
                                                                         kind, ever_lifted):
    operator = SimulatedOperator(kinematics, OperatorConfig(
        mode='demo', demo_settle_steps=3, demo_plan=[kind], marks=True, seed=4))
    mark, lifted, lifted_at_end = demonstrate(cell, kinematics, operator, seed=21)
    assert mark == ('success' if kind == 'success' else 'failure')
    assert lifted == ever_lifted and lifted_at_end == (kind == 'success')
    assert operator.performed == 1


def test_demonstrations_lift_to_the_heights_asked_for_and_are_marked_once_held(cell,
                                                                             kinematics):
    """A person varies how high they lift (a classifier that saw one height misses a policy
    that lifts higher or lower) and presses S once the cube has been up for a moment."""
    heights = {}
    for low, high in ((0.05, 0.06), (0.16, 0.17)):
        operator = SimulatedOperator(kinematics, OperatorConfig(
            mode='demo', demo_settle_steps=3, marks=True, demo_lift_heights_m=[low, high]))
        mark, _, lifted_at_end = demonstrate(cell, kinematics, operator, seed=24)
        assert mark == 'success' and lifted_at_end
        assert low - 0.01 <= operator.script.lift_height_m <= high
        heights[low] = kinematics.position(cell.joint_positions())[2]
        assert heights[low] >= operator.script.lift_height_m - 0.015, heights
    assert heights[0.16] - heights[0.05] > 0.08, heights


@pytest.mark.parametrize('kind', ['success', 'near_miss'])
def test_demonstrations_carry_the_lifted_hand_around_before_the_mark(cell, kinematics, kind):
    """A person shows the classifier the cube up from many sides, and the empty hand the same
    way in a failure: after the lift the hand goes to the places drawn, then the mark."""
    spread = {}
    for places in (0, 3):
        operator = SimulatedOperator(kinematics, OperatorConfig(
            mode='demo', demo_settle_steps=3, marks=True, demo_plan=[kind], seed=5,
            demo_lift_heights_m=[0.06, 0.14], demo_carry_places=places))
        up = []  # the EE once lifted

        def eyes(seen, operator=operator, up=up):
            if operator.script.phase is Phase.HOLD:
                up.append(kinematics.position(cell.joint_positions()))
            return seen
        mark, _, lifted_at_end = demonstrate(cell, kinematics, operator, seed=25, steps=150,
                                             eyes=eyes)
        assert mark == ('success' if kind == 'success' else 'failure')
        assert lifted_at_end == (kind == 'success')
        assert len(operator.script.attempt.carry_m) == places
        spread[places] = np.ptp(np.array(up), axis=0)
    assert np.all(spread[0][:2] < 0.015) and np.any(spread[3][:2] > 0.04), spread


def test_a_demonstration_that_did_not_show_what_was_meant_is_re_recorded(cell, kinematics):
    plan = ['closed_on_air', 'success']
    operator = SimulatedOperator(kinematics, OperatorConfig(
        mode='demo', demo_settle_steps=3, demo_plan=plan, marks=True))
    # the person sees the cube up at the end (as if it had been caught after all)
    mark, _, _ = demonstrate(cell, kinematics, operator, seed=22, eyes=lambda seen: True)
    assert mark == 'rerecord' and operator.demo_kind == 'closed_on_air'  # performed again
    mark, _, _ = demonstrate(cell, kinematics, operator, seed=22)
    assert mark == 'failure' and operator.demo_kind == 'success'


def test_without_marks_a_demonstration_marks_nothing(cell, kinematics):
    operator = SimulatedOperator(kinematics, OperatorConfig(mode='demo', demo_settle_steps=3))
    mark, lifted, _ = demonstrate(cell, kinematics, operator, seed=23)
    assert mark == '' and lifted
