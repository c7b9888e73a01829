"""Episode bags read back frame by frame through the shared preprocessing: the workspace's own
(compressed chunks; on the real arm the full frame as JPEG beside the processed image) and bags
written elsewhere (MCAP or sqlite3, processed, raw or JPEG image topics)."""
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import StoragePlugin, Writer

from hilserl_common.bags import BagWriter, EpisodeBagWriter, header, typestore
from hilserl_common.bags.images import compressed
from hilserl_common.preprocessing import preprocess
from reward_classifier.data.bags import BagError, read_episode_frames


def _frames(count, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 128, 128, 3), dtype=np.uint8)


def test_written_episode_is_a_rosbag2_mcap_directory_with_the_recording_topics(tmp_path):
    frames = _frames(3)
    bag = tmp_path / 'episode_000'
    with EpisodeBagWriter(bag, namespace='so101') as writer:
        for i, frame in enumerate(frames):
            writer.write_image(1_000_000_000 + i * 100_000_000, frame)
            writer.write_joint_state(1_000_000_000 + i * 100_000_000, ['a', 'b'], [0.1 * i, 0.2],
                                     [0.0, 0.0])
    metadata = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert metadata['storage_identifier'] == 'mcap' and metadata['version'] == 8
    topics = {t['topic_metadata']['name']: t['topic_metadata']['type']
              for t in metadata['topics_with_message_count']}
    assert topics == {'/so101/wrist_camera/image_proc': 'sensor_msgs/msg/Image',
                      '/so101/joint_states': 'sensor_msgs/msg/JointState'}
    episode = read_episode_frames(bag)
    assert episode.topic == '/so101/wrist_camera/image_proc'
    assert np.array_equal(episode.images, frames)
    assert episode.stamps_ns.tolist() == [1_000_000_000, 1_100_000_000, 1_200_000_000]


def _write_images(bag: Path, topics, images, encoding='rgb8', storage=StoragePlugin.MCAP):
    """A bag written directly with rosbags (as `ros2 bag record` would): `images` on each topic."""
    store = typestore()
    types = store.types
    topics = [topics] if isinstance(topics, str) else topics
    with Writer(bag, version=9, storage_plugin=storage) as writer:
        connections = [writer.add_connection(t, 'sensor_msgs/msg/Image', typestore=store)
                       for t in topics]
        for i, image in enumerate(images):
            stamp = types['builtin_interfaces/msg/Time'](sec=i, nanosec=0)
            msg = types['sensor_msgs/msg/Image'](
                header=types['std_msgs/msg/Header'](stamp=stamp, frame_id='cam'),
                height=image.shape[0], width=image.shape[1], encoding=encoding, is_bigendian=0,
                step=image.shape[1] * 3, data=image.reshape(-1))
            for connection in connections:
                writer.write(connection, i * 1_000_000_000,
                             store.serialize_cdr(msg, msg.__msgtype__))


def test_raw_camera_frames_go_through_the_shared_preprocessing(tmp_path):
    raw = np.random.default_rng(2).integers(0, 256, (2, 480, 640, 3), dtype=np.uint8)
    _write_images(tmp_path / 'raw', '/wrist_camera/image_raw', raw)
    episode = read_episode_frames(tmp_path / 'raw')
    assert episode.topic == '/wrist_camera/image_raw'
    assert np.array_equal(episode.images, np.stack([preprocess(f) for f in raw]))


def write_real_arm_recording(bag: Path, processed, full):
    """What the actor records on the real arm: processed frames and the full ones as JPEG."""
    store = typestore()
    with BagWriter(bag) as writer:
        writer.add('proc', 'wrist_camera/image_proc', 'sensor_msgs/msg/Image', '/so101')
        writer.add('jpeg', 'wrist_camera/image_raw/compressed',
                   'sensor_msgs/msg/CompressedImage', '/so101')
        for i, (small, large) in enumerate(zip(processed, full)):
            stamp = header(store, 1_000_000_000 * (i + 1), 'wrist_camera')
            writer.write_message('proc', i, store.types['sensor_msgs/msg/Image'](
                header=stamp, height=128, width=128, encoding='rgb8', is_bigendian=0, step=384,
                data=small.reshape(-1)))
            writer.write_message('jpeg', i, compressed(store, large, stamp))


def test_a_real_arm_recording_reads_as_seen_or_recropped_from_its_full_frames(tmp_path):
    full = np.zeros((2, 480, 640, 3), np.uint8)
    full[:, :, 80:560] = (40, 160, 90)        # what the centre crop keeps
    processed = _frames(2, seed=5)            # stands for what the camera node published
    write_real_arm_recording(tmp_path / 'arm', processed, full)
    seen = read_episode_frames(tmp_path / 'arm')
    assert seen.topic == '/so101/wrist_camera/image_proc'
    assert np.array_equal(seen.images, processed)
    recropped = read_episode_frames(tmp_path / 'arm', 'wrist_camera/image_raw/compressed')
    assert recropped.topic == '/so101/wrist_camera/image_raw/compressed'
    error = np.abs(recropped.images.astype(int) - np.stack([preprocess(f) for f in full]))
    assert error.mean() < 1.0 and error.max() <= 8  # JPEG, softest at the crop's edge
    assert recropped.stamps_ns.tolist() == seen.stamps_ns.tolist() == [1_000_000_000,
                                                                        2_000_000_000]


def test_sqlite3_bags_and_bgr_frames_read_too(tmp_path):
    frames = _frames(2, seed=3)
    _write_images(tmp_path / 'sqlite', '/wrist_camera/image_proc', frames[..., ::-1].copy(),
                  encoding='bgr8', storage=StoragePlugin.SQLITE3)
    assert np.array_equal(read_episode_frames(tmp_path / 'sqlite').images, frames)


def test_the_processed_topic_is_preferred_and_ambiguity_is_an_error(tmp_path):
    frames = _frames(2, seed=4)
    _write_images(tmp_path / 'both', ['/wrist_camera/image_raw', '/wrist_camera/image_proc'],
                  frames)
    assert read_episode_frames(tmp_path / 'both').topic == '/wrist_camera/image_proc'
    _write_images(tmp_path / 'two_robots', ['/a/wrist_camera/image_proc',
                                            '/b/wrist_camera/image_proc'], frames)
    with pytest.raises(BagError, match='several topics match .*set image_topic'):
        read_episode_frames(tmp_path / 'two_robots')
    assert read_episode_frames(tmp_path / 'two_robots', '/b/wrist_camera/image_proc').topic == \
        '/b/wrist_camera/image_proc'
    with pytest.raises(BagError, match='no image topic /c/wrist_camera/image_proc'):
        read_episode_frames(tmp_path / 'two_robots', '/c/wrist_camera/image_proc')
    with pytest.raises(BagError, match='does not exist'):
        read_episode_frames(tmp_path / 'missing')
    (tmp_path / 'not_a_bag').mkdir()
    with pytest.raises(BagError, match='not a readable rosbag2 recording'):
        read_episode_frames(tmp_path / 'not_a_bag')


def test_a_frame_of_the_wrong_encoding_names_the_bag_and_frame(tmp_path):
    _write_images(tmp_path / 'mono16', '/wrist_camera/image_proc', _frames(1), encoding='rgba16')
    with pytest.raises(BagError, match=r"frame 0 of /wrist_camera/image_proc: unsupported image "
                                       r"encoding 'rgba16'"):
        read_episode_frames(tmp_path / 'mono16')
