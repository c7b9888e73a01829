"""A recording's label file: one episode's label set at a time (by the recorder or a person),
the others kept; a folder of recordings given as demonstrations stands for its successes."""
import yaml

from hilserl_common.episode_labels import (
    demo_recordings,
    episode_labels,
    label_document,
    needs_review,
    record_episode_label,
    write_needs_review,
)


def test_a_recording_folder_gives_its_successful_episodes_as_demonstrations(tmp_path):
    demos = tmp_path / 'demos'
    demos.mkdir()
    (demos / 'labels.yaml').write_text('image_topic: /so101/wrist_camera/image_proc\n')
    for name, cutoff in (('episode_0001', None), ('episode_0000', 12), ('episode_0002', 30)):
        record_episode_label(demos / 'labels.yaml', name, cutoff)
    record_episode_label(demos / 'labels.yaml', 'episode_0002', None)  # a person's correction
    document = yaml.safe_load((demos / 'labels.yaml').read_text())
    assert document['image_topic'] == '/so101/wrist_camera/image_proc'
    assert document['episodes']['episode_0002'] == {'success_from_frame': None}
    assert demo_recordings([str(demos), str(tmp_path / 'other_bag')]) == [
        str(demos / 'episode_0000'), str(tmp_path / 'other_bag')]


def test_the_labels_are_read_from_the_file_or_its_folder_and_none_yet_is_empty(tmp_path):
    assert episode_labels(tmp_path) == {} and episode_labels(tmp_path / 'labels.yaml') == {}
    (tmp_path / 'labels.yaml').write_text('image_topic: /so101/wrist_camera/image_proc\n')
    assert episode_labels(tmp_path) == {}  # a mined file waiting for review lists none yet
    record_episode_label(tmp_path / 'labels.yaml', 'episode_0000', 7)
    assert episode_labels(tmp_path) == episode_labels(tmp_path / 'labels.yaml') == {
        'episode_0000': {'success_from_frame': 7}}


def test_a_json_label_file_reads_as_the_yaml_one(tmp_path):
    (tmp_path / 'labels.json').write_text('{"episodes": {"episode_0000": '
                                          '{"success_from_frame": 3}}}')
    assert episode_labels(tmp_path / 'labels.json') == {'episode_0000': {'success_from_frame': 3}}
    assert label_document(tmp_path / 'labels.json')['episodes'] == \
        episode_labels(tmp_path / 'labels.json')


def test_the_episodes_waiting_for_a_persons_labels_are_listed_and_read_back(tmp_path):
    assert needs_review(tmp_path) == []
    write_needs_review(tmp_path, [])
    assert not (tmp_path / 'needs_review.yaml').exists()
    write_needs_review(tmp_path, ['episode_0003', 'episode_0007'])
    assert needs_review(tmp_path) == ['episode_0003', 'episode_0007']
