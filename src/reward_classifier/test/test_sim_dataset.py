"""The auto-labelled simulation dataset: real MuJoCo episodes of the scripted grasp, written as
recording-like bags whose labels agree with the privileged grasp state recorded beside them."""
import dataclasses

import numpy as np
import pytest
import yaml

from hilserl_common.bags import messages, open_bag
from reward_classifier.cli import main
from reward_classifier.data.dataset import load_labelled_frames
from reward_classifier.data.labels import load_labels
from reward_classifier.sim_dataset import (
    DROP,
    LIFT_HEIGHTS_M,
    LOW,
    MISS,
    SUCCESS,
    EpisodePlan,
    plan_episodes,
    run_episode,
)
from so101_sim.scripted_grasp import CARRY_REACH_M


def test_episode_plans_are_seeded_and_mix_the_cases():
    plans = plan_episodes(40, seed=3, failure_fraction=0.35)
    kinds = [p.kind for p in plans]
    assert kinds.count(MISS) == 14 and kinds.count(DROP) == 6 and kinds.count(LOW) == 6
    assert kinds.count(SUCCESS) == 14
    assert all(0.025 <= p.lift_height_m <= 0.041 for p in plans if p.kind == LOW)
    assert all(p.lift_height_m >= 0.05 for p in plans if p.kind != LOW)
    assert plans == plan_episodes(40, seed=3, failure_fraction=0.35)
    assert plans != plan_episodes(40, seed=4, failure_fraction=0.35)
    assert len({p.scene_seed for p in plans}) == 40
    assert all(0.04 <= np.hypot(*p.miss_offset_m) <= 0.06 for p in plans if p.kind == MISS)


def test_lifts_carry_the_hand_around_when_asked_and_nothing_else_changes():
    plain = plan_episodes(40, seed=3, failure_fraction=0.35)
    carried = plan_episodes(40, seed=3, failure_fraction=0.35, carry_places=3)
    assert all(p.carry_m == () for p in plain)
    for before, after in zip(plain, carried):
        assert dataclasses.replace(after, carry_m=()) == before
        assert len(after.carry_m) == (0 if after.kind == LOW else 3)
        for x, y, z in after.carry_m:
            assert abs(x) <= CARRY_REACH_M and abs(y) <= CARRY_REACH_M
            low, high = LIFT_HEIGHTS_M[after.kind]
            assert low <= after.lift_height_m + z <= high


def _privileged_success(bag):
    with open_bag(bag) as reader:
        connections = [c for c in reader.connections if c.topic == '/so101/sim/grasp_state']
        return np.array([msg.success for _, _, msg in messages(reader, connections)])


def test_generated_episodes_are_labelled_from_the_privileged_success(tmp_path, capsys):
    output = tmp_path / 'sim_dataset'
    code = main(['generate-sim', '--output', str(output), '--episodes', '2', '--seed', '0',
                 '--failure-fraction', '0.5', '--steps', '45', '--namespace', 'so101'])
    assert code == 0, capsys.readouterr().err
    assert 'wrote 2 episodes (1 miss, 1 success)' in capsys.readouterr().out
    labels = load_labels(output)
    assert [e.name for e in labels.episodes] == ['episode_0000', 'episode_0001']
    assert labels.image_topic == '/so101/wrist_camera/image_proc'
    metadata = yaml.safe_load((output / 'episode_0000' / 'metadata.yaml').read_text())
    info = metadata['rosbag2_bagfile_information']
    assert info['version'] == 8 and info['storage_identifier'] == 'mcap'
    assert {t['topic_metadata']['name'] for t in info['topics_with_message_count']} == {
        '/so101/wrist_camera/image_proc', '/so101/front_camera/image_proc',
        '/so101/joint_states', '/so101/sim/grasp_state'}

    frames = load_labelled_frames(output, ['wrist_camera', 'front_camera'])
    assert len(frames) == 90 and frames.images.shape[1] == 2
    assert not np.array_equal(frames.images[:, 0], frames.images[:, 1])  # two cameras
    cutoffs = []
    for number, episode in enumerate(labels.episodes):
        privileged = _privileged_success(output / episode.name)
        assert frames.labels[frames.episode_index == number].tolist() == \
            privileged.astype(int).tolist()
        cutoffs.append(episode.success_from_frame)
    # One episode misses (never succeeds), the other lifts the cube and holds it.
    assert sorted(cutoffs, key=lambda c: c is None)[1] is None
    assert sorted(cutoffs, key=lambda c: c is None)[0] is not None
    # Frames are the wrist camera's: the success frames look different from the failures.
    assert frames.images.std() > 10

    assert main(['generate-sim', '--output', str(output), '--episodes', '1']) == 2
    assert 'is not empty' in capsys.readouterr().err


@pytest.mark.parametrize('argv', [['--episodes', '0'], ['--failure-fraction', '1.5'],
                                  ['--steps', '0']])
def test_bad_generator_arguments_are_refused(tmp_path, argv, capsys):
    assert main(['generate-sim', '--output', str(tmp_path / 'x')] + argv) == 2
    assert 'Traceback' not in capsys.readouterr().err


def test_the_highest_low_hold_shows_the_cube_just_below_the_success_height():
    """A policy's false successes were cubes held 2.85-2.88 cm up against the 3 cm of success:
    the dataset's low holds must reach there, or the classifier never sees such a failure."""
    from so101_kinematics.kinematics import Kinematics
    from so101_sim.cell import SimulatedCell
    from so101_sim.config import CellConfig
    from so101_sim.scripted_grasp import ScriptedGrasp

    highest = EpisodePlan(scene_seed=7, kind=LOW, start_delay_steps=0,
                          lift_height_m=LIFT_HEIGHTS_M[LOW][1])
    with SimulatedCell(CellConfig(seed=0)) as cell:
        episode = run_episode(cell, ScriptedGrasp(Kinematics()), highest, 50, 0.1)
        success_lift_m = cell.config.success_lift_m
    heights = np.array([g.cube_height for g in episode.grasp])
    held = (heights - heights[0])[-10:]  # the cube's bottom in the hold (2.91 cm up when written)
    assert np.all((held > success_lift_m - 0.003) & (held < success_lift_m))
    assert not episode.success[-10:].any()  # a failure, as the simulation labels it
