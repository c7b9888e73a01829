"""The episode loop without ROS: an arm that follows its commands exactly (kinematic) stands in
for the robot, and the policy is injected."""
import dataclasses

import numpy as np
import pytest

from hilserl_actor.config import ActorConfig
from hilserl_actor.episode import EpisodeLoop, Snapshot
from so101_description.model import GRIPPER_INDEX
from so101_kinematics.kinematics import Kinematics

IMAGE = np.zeros((128, 128, 3), np.uint8)


@pytest.fixture(scope='module')
def kinematics():
    return Kinematics()


def start_joints(kinematics):
    """Joints with the EE near the reset pose."""
    middle = (kinematics.lower + kinematics.upper) / 2
    return kinematics.inverse([0.25, 0.0, 0.07], middle, max_iterations=200).joints


class KinematicArm:
    """Measured joints = last command, a new sample every step."""

    def __init__(self, joints):
        self.joints = np.array(joints, dtype=float)
        self.time_s = 0.0

    def snapshot(self, success=False, leader=None, intervention=False):
        self.time_s += 0.1
        return Snapshot(now_s=self.time_s, joints=self.joints.copy(), joints_time_s=self.time_s,
                        image=IMAGE, image_time_s=self.time_s, success=success,
                        success_time_s=self.time_s, leader_joints=leader,
                        intervention=intervention, leader_time_s=self.time_s)

    def apply(self, command):
        if command is not None:
            self.joints = np.array(command, dtype=float)


class ScriptedPolicy:
    """A policy given as a function, before any learned weights (version 0)."""
    version = acting_version = 0

    def __init__(self, act):
        self.act = act

    def __call__(self, state, image, deterministic):
        return self.act(state, image, deterministic)


def run_steps(loop, arm, steps, **snapshot_fields):
    results = []
    for _ in range(steps):
        result = loop.step(arm.snapshot(**snapshot_fields))
        arm.apply(result.command)
        results.append(result)
        if result.done:
            break
    return results


@pytest.mark.parametrize('bad_action', [
    lambda rng: rng.uniform(-1e6, 1e6, 3),
    lambda rng: np.array([np.nan, np.inf, -np.inf]),
    lambda rng: rng.choice([np.nan, 50.0, -50.0], 3),
])
def test_the_ee_never_leaves_the_bounds_whatever_the_policy_outputs(kinematics, bad_action):
    rng = np.random.default_rng(0)
    config = ActorConfig(control_time_s=30.0)
    loop = EpisodeLoop(config, kinematics, ScriptedPolicy(
        lambda s, i, d: (bad_action(rng), int(rng.integers(-5, 8)))))
    arm = KinematicArm(start_joints(kinematics))
    loop.begin(arm.joints)
    for result in run_steps(loop, arm, 300):
        assert np.all(arm.joints >= kinematics.lower - 1e-9)
        assert np.all(arm.joints <= kinematics.upper + 1e-9)
        position = kinematics.position(arm.joints)
        assert np.all(position >= kinematics.bounds_min - 0.002), position
        assert np.all(position <= kinematics.bounds_max + 0.002), position
        if result.transition is not None:  # what is stored is what was executed
            assert np.all(np.abs(result.transition.action) <= 1.0)
            assert result.transition.gripper_action in (0, 1, 2)


def test_an_intervention_stores_what_the_follower_did(kinematics):
    """The action of an intervention step is the follower's EE motion over it in action units
    (so101_kinematics.action_space), not the leader's offset from it: a blocked follower stores
    no motion. The gripper action is what the leader asks."""
    offset = np.array([0.01, -0.006, 0.004])  # the leader's EE relative to the follower
    for follows in (True, False):
        loop = EpisodeLoop(ActorConfig(), kinematics,
                           ScriptedPolicy(lambda s, i, d: (np.zeros(3), 1)))
        arm = KinematicArm(start_joints(kinematics))
        loop.begin(arm.joints)
        leader = kinematics.inverse(kinematics.position(arm.joints) + offset, arm.joints,
                                    max_iterations=100).joints
        leader[GRIPPER_INDEX] = arm.joints[GRIPPER_INDEX] - 0.3   # closing
        before = kinematics.position(arm.joints)
        command = loop.step(arm.snapshot(leader=leader, intervention=True)).command
        if follows:
            arm.apply(command)
        moved = kinematics.position(arm.joints) - before
        transition = loop.step(arm.snapshot(leader=leader, intervention=True)).transition
        assert transition.is_intervention
        assert np.linalg.norm(moved) > 0.005 if follows else not moved.any()
        np.testing.assert_allclose(transition.action, np.clip(moved / 0.02, -1, 1), atol=1e-5)
        assert transition.gripper_action == 0


def test_the_follower_walks_to_the_leader_without_jumps_and_the_release_is_smooth(kinematics):
    config = ActorConfig()
    loop = EpisodeLoop(config, kinematics, ScriptedPolicy(lambda s, i, d: (np.zeros(3), 1)))
    arm = KinematicArm(start_joints(kinematics))
    loop.begin(arm.joints)
    far_leader = arm.joints + np.array([0.6, -0.3, 0.3, 0.0, 0.0, 0.0])
    previous = arm.joints.copy()
    for _ in range(6):
        run_steps(loop, arm, 1, leader=far_leader, intervention=True)
        step = np.max(np.abs(arm.joints - previous))
        assert step <= config.intervention_max_joint_step_rad + 1e-9
        # No farther than one policy action: the human's step is expressible unsaturated
        # (joint-space scaling of a step this small is linear to within a tenth of a mm).
        ee_step = np.abs(kinematics.position(arm.joints) - kinematics.position(previous))
        assert ee_step.max() <= config.action_scale + 1e-4, ee_step
        assert ee_step.max() > 0.5 * config.action_scale   # and it does move
        previous = arm.joints.copy()
    released_at = kinematics.position(arm.joints)
    run_steps(loop, arm, 3)  # operator lets go; the policy outputs zero motion
    assert np.linalg.norm(kinematics.position(arm.joints) - released_at) < 0.005


def test_stale_inputs_pause_the_episode_and_say_why(kinematics):
    loop = EpisodeLoop(ActorConfig(), kinematics, ScriptedPolicy(lambda s, i, d: (np.zeros(3), 1)))
    arm = KinematicArm(start_joints(kinematics))
    loop.begin(arm.joints)
    snapshot = arm.snapshot()
    old_image = dataclasses.replace(snapshot, image_time_s=snapshot.now_s - 0.5)
    assert 'wrist image is 500 ms old' in loop.step(old_image).paused
    assert 'no reward' in loop.step(dataclasses.replace(snapshot, success=None)).paused
    assert loop.step(snapshot).paused == ''
    assert 'no new joint_states' in loop.step(dataclasses.replace(snapshot)).paused


def test_a_person_recording_gets_longer_than_the_policy(kinematics):
    def steps(mode):
        return EpisodeLoop(ActorConfig(mode=mode, control_time_s=10.0, record_time_s=20.0),
                           kinematics, ScriptedPolicy(lambda s, i, d: (np.zeros(3), 1))).max_steps
    assert (steps('train'), steps('eval'), steps('record')) == (100, 100, 200)


def test_a_recording_pauses_while_the_leader_arm_is_missing_or_silent(kinematics):
    """A recording is the person's: without their leader arm the policy must not act (its steps
    would be kept as theirs), whatever the reason the leader is not heard from."""
    asked = []
    loop = EpisodeLoop(ActorConfig(mode='record'), kinematics, ScriptedPolicy(
        lambda s, i, d: (asked.append(1), (np.ones(3), 0))[1]))
    arm = KinematicArm(start_joints(kinematics))
    loop.begin(arm.joints)
    result = loop.step(arm.snapshot())
    assert (result.paused, result.command) == ('no leader joint_states received yet', None)
    silent = dataclasses.replace(arm.snapshot(leader=arm.joints.copy()),
                                 leader_time_s=arm.time_s - 0.5)
    assert loop.step(silent).paused == ('leader joint_states is 500 ms old (limit 200 ms)')
    result = loop.step(arm.snapshot(leader=arm.joints.copy()))
    assert result.paused == '' and result.command is not None
    assert asked == []


def test_an_episode_knows_how_old_its_frames_joints_and_rewards_were(kinematics):
    loop = EpisodeLoop(ActorConfig(), kinematics, ScriptedPolicy(lambda s, i, d: (np.zeros(3), 1)))
    arm = KinematicArm(start_joints(kinematics))
    loop.begin(arm.joints)
    for age_s, reward_age_s in ((0.010, 0.0), (0.030, 0.068), (0.030, 0.068)):
        snapshot = arm.snapshot()
        arm.apply(loop.step(dataclasses.replace(
            snapshot, image_time_s=snapshot.now_s - age_s,
            success_time_s=snapshot.now_s - reward_age_s)).command)
    assert loop.summary.input_ages_ms() == pytest.approx({
        'frame_age_p50_ms': 30.0, 'frame_age_p95_ms': 30.0,
        'joints_age_p50_ms': 0.0, 'joints_age_p95_ms': 0.0,
        'reward_age_p50_ms': 68.0, 'reward_age_p95_ms': 68.0})


def test_success_terminates_and_the_time_limit_truncates(kinematics):
    config = ActorConfig(control_time_s=1.0)
    loop = EpisodeLoop(config, kinematics, ScriptedPolicy(lambda s, i, d: (np.zeros(3), 1)))
    arm = KinematicArm(start_joints(kinematics))
    loop.begin(arm.joints)
    results = run_steps(loop, arm, 50)
    transitions = [r.transition for r in results if r.transition]
    assert len(transitions) == 10 and results[-1].done
    assert transitions[-1].truncated and not transitions[-1].terminated
    assert not any(t.truncated for t in transitions[:-1])
    assert [t.step_id for t in transitions] == list(range(10))

    loop.begin(arm.joints)
    run_steps(loop, arm, 3)
    result = loop.step(arm.snapshot(success=True))
    assert result.done and result.transition.terminated and result.transition.reward == 1.0
    assert loop.summary.success and loop.summary.steps_to_success == 3


def test_the_loop_is_timed_on_the_node_clock_and_on_the_wall_clock(kinematics):
    """In a simulation slowed to a third of real time the node clock ticks 0.1 s a step while
    the wall clock takes 0.3 s; a stall shows on the wall clock alone."""
    loop = EpisodeLoop(ActorConfig(), kinematics, ScriptedPolicy(lambda s, i, d: (np.zeros(3), 1)))
    arm = KinematicArm(start_joints(kinematics))
    loop.begin(arm.joints)
    wall_s = 100.0
    for step in range(20):
        wall_s += 0.45 if step == 10 else 0.3
        snapshot = arm.snapshot()
        snapshot.wall_s = wall_s
        arm.apply(loop.step(snapshot).command)
    summary = loop.summary
    assert summary.policy_hz() == pytest.approx(10.0)
    assert summary.jitter_p99_ms(0.1) == pytest.approx(0.0, abs=1e-6)
    assert summary.policy_hz(wall=True) == pytest.approx(19 / (19 * 0.3 + 0.15))
    assert summary.jitter_p99_ms(0.3, wall=True) > 100.0
