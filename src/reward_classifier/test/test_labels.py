"""Label files: cutoffs and ranges give the right per-frame labels; bad files are refused with
messages that name the episode and the problem."""
import json

import numpy as np
import pytest

from reward_classifier.data.labels import (
    EpisodeLabels,
    LabelError,
    labels_from_success_flags,
    load_labels,
    write_labels,
)


def test_frames_at_and_after_the_cutoff_are_success():
    labels = EpisodeLabels('e', success_from_frame=3).frame_labels(6)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert EpisodeLabels('e', success_from_frame=0).frame_labels(3).tolist() == [1, 1, 1]
    assert EpisodeLabels('e', success_from_frame=None).frame_labels(3).tolist() == [0, 0, 0]
    # A cutoff just past the last frame is allowed: the episode succeeds after its last frame.
    assert EpisodeLabels('e', success_from_frame=3).frame_labels(3).tolist() == [0, 0, 0]


def test_success_ranges_are_inclusive():
    labels = EpisodeLabels('e', success_ranges=((1, 2), (5, 5))).frame_labels(7)
    assert labels.tolist() == [0, 1, 1, 0, 0, 1, 0]


def test_labels_pointing_past_the_episode_are_refused():
    with pytest.raises(LabelError, match='episode e: success_from_frame 9 is past the end'):
        EpisodeLabels('e', success_from_frame=9).frame_labels(5)
    with pytest.raises(LabelError, match=r'range \[3, 5\] ends past the last frame \(4\)'):
        EpisodeLabels('e', success_ranges=((3, 5),)).frame_labels(5)


def test_a_written_label_file_reads_back_the_same(tmp_path):
    episodes = [EpisodeLabels('a', success_from_frame=4), EpisodeLabels('b'),
                EpisodeLabels('c', success_ranges=((2, 3), (7, 9)))]
    for name in ('labels.yaml', 'labels.json'):
        path = write_labels(tmp_path / name, episodes, image_topic='/so101/wrist_camera/image_proc')
        loaded = load_labels(path)
        assert loaded.episodes == tuple(episodes)
        assert loaded.image_topic == '/so101/wrist_camera/image_proc'
        assert loaded.bag_path(loaded.episode('c')) == tmp_path / 'c'
    assert load_labels(tmp_path).path == tmp_path / 'labels.yaml'  # a folder finds labels.yaml


@pytest.mark.parametrize('entry, message', [
    ({'success_from_frame': -1}, 'success_from_frame = -1; expected a frame number >= 0'),
    ({'success_from_frame': 2.5}, 'success_from_frame = 2.5'),
    ({'success_from_frame': True}, 'success_from_frame = True'),
    ({'success_from_frame': 3, 'success_ranges': []}, 'expected exactly one of'),
    ({'cutoff': 3}, 'expected exactly one of'),
    ({'success_ranges': [[5, 2]]}, r'success range \[5, 2\]'),
    ({'success_ranges': [[1, 2, 3]]}, r'success range \[1, 2, 3\]'),
    ({'success_ranges': 4}, 'expected a list of'),
])
def test_malformed_episode_labels_name_the_episode_and_the_problem(tmp_path, entry, message):
    path = tmp_path / 'labels.json'
    path.write_text(json.dumps({'episodes': {'episode_007': entry}}))
    with pytest.raises(LabelError, match=f'episode episode_007: .*{message}'):
        load_labels(path)


@pytest.mark.parametrize('text, message', [
    ('episodes: [a, b]', 'expected a mapping with an "episodes:" mapping'),
    ('episodes: {}', 'no episodes listed'),
    ('episodes: {a: {success_from_frame: 1}}\ncutoffs: 3', r'unknown key\(s\) cutoffs'),
    ('episodes: {a: {success_from_frame: 1}', 'cannot be parsed'),
])
def test_malformed_label_files_are_refused(tmp_path, text, message):
    path = tmp_path / 'labels.yaml'
    path.write_text(text)
    with pytest.raises(LabelError, match=message):
        load_labels(path)
    with pytest.raises(LabelError, match='does not exist'):
        load_labels(tmp_path / 'missing.yaml')


def test_privileged_success_flags_become_a_cutoff_or_ranges():
    held = labels_from_success_flags('e', np.array([0, 0, 1, 1, 1], bool))
    assert held == EpisodeLabels('e', success_from_frame=2)
    never = labels_from_success_flags('e', np.zeros(4, bool))
    assert never == EpisodeLabels('e', success_from_frame=None)
    flags = np.array([0, 1, 1, 0, 0, 1, 0], bool)   # lifted, dropped, lifted again, dropped
    dropped = labels_from_success_flags('e', flags)
    assert dropped.success_ranges == ((1, 2), (5, 5))
    assert dropped.frame_labels(len(flags)).tolist() == flags.astype(int).tolist()
