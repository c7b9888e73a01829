"""The bag module: what it writes is a rosbag2 bag that ROS 2 Jazzy's tools and an independent MCAP
reader accept, with zstd-compressed chunks; the image decoder reads every layout a recording has."""
import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from hilserl_common.bags import (
    BagError,
    BagWriter,
    EpisodeBagWriter,
    decode_image,
    header,
    messages,
    open_bag,
    pixels,
    processed_image,
    typestore,
)
from hilserl_common.bags.images import compressed
from hilserl_common.preprocessing import preprocess


def frames(count, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 128, 128, 3), dtype=np.uint8)


def camera_frame(seed=0, noise=3.0):
    """A 480x640 scene of gradients and a red cube with sensor-like noise: closer to a camera's
    frame than random pixels are."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640] / 4.0
    scene = np.stack([x * 1.5, y * 2.0, 255 - x - y / 2], axis=-1)
    scene[160:320, 240:400] = (200, 30, 30)
    return np.clip(scene + rng.normal(0, noise, scene.shape), 0, 255).astype(np.uint8)


def write_episode(path, images):
    with EpisodeBagWriter(path, namespace='so101') as writer:
        for i, image in enumerate(images):
            stamp = 1_000_000_000 + i * 100_000_000
            writer.write_image(stamp, image)
            writer.write_joint_state(stamp, ['shoulder_pan'], [0.1 * i])
    return path


def test_the_metadata_has_every_field_jazzys_rosbag2_reads_for_its_version(tmp_path):
    """The fields and types rosbag2_storage (Jazzy) decodes for a version 8 metadata.yaml, and
    no rosbag2-level compression: the MCAP file is compressed inside, chunk by chunk."""
    bag = write_episode(tmp_path / 'episode_0000', frames(3))
    info = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['version'] == 8 and info['storage_identifier'] == 'mcap'
    assert isinstance(info['duration']['nanoseconds'], int)
    assert isinstance(info['starting_time']['nanoseconds_since_epoch'], int)
    assert info['message_count'] == 6
    assert info['compression_format'] == '' and info['compression_mode'] == ''
    assert [f['path'] for f in info['files']] == info['relative_file_paths'] == [
        'episode_0000.mcap']
    assert (bag / 'episode_0000.mcap').is_file()
    assert info['custom_data'] is None or isinstance(info['custom_data'], dict)
    assert isinstance(info['ros_distro'], str)
    for topic in info['topics_with_message_count']:
        meta = topic['topic_metadata']
        assert meta['serialization_format'] == 'cdr'
        assert isinstance(meta['offered_qos_profiles'], str)  # a YAML string before version 9
        assert meta['type_description_hash'].startswith('RIHS01_')
    assert sum(t['message_count'] for t in info['topics_with_message_count']) == 6


def test_chunks_are_zstd_compressed_and_an_independent_reader_decodes_them(tmp_path):
    images = frames(12)
    bag = write_episode(tmp_path / 'episode_0000', images)
    with open(bag / 'episode_0000.mcap', 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == 'ros2'
        chunks = reader.get_summary().chunk_indexes
        assert chunks and {c.compression for c in chunks} == {'zstd'}
        decoded = [np.frombuffer(bytes(msg.data), np.uint8).reshape(128, 128, 3)
                   for _, _, _, msg in reader.iter_decoded_messages(
                       topics=['/so101/wrist_camera/image_proc'])]
    assert np.array_equal(np.stack(decoded), images)


def test_images_with_flat_regions_take_far_less_room(tmp_path):
    """Rendered scenes compress several times over; a camera's noise leaves less to gain."""
    rendered = [preprocess(camera_frame(seed, noise=0.0)) for seed in range(20)]
    bag = write_episode(tmp_path / 'episode_0000', rendered)
    assert (bag / 'episode_0000.mcap').stat().st_size < 0.25 * 20 * 128 * 128 * 3


def test_the_reader_gives_messages_in_order_with_the_workspaces_types(tmp_path):
    bag = tmp_path / 'episode_0000'
    store = typestore()
    with BagWriter(bag) as writer:
        writer.add('grasp', 'sim/grasp_state', 'hilserl_interfaces/msg/GraspState', '/so101')
        for i in range(3):
            msg = store.types['hilserl_interfaces/msg/GraspState'](
                header=header(store, 10 + i), cube_pose=store.types['geometry_msgs/msg/Pose'](
                    position=store.types['geometry_msgs/msg/Point'](x=0.0, y=0.0, z=0.0),
                    orientation=store.types['geometry_msgs/msg/Quaternion'](
                        x=0.0, y=0.0, z=0.0, w=1.0)),
                gripper_contact=False, grasped=i > 0, cube_height=0.01 * i, success=i == 2)
            writer.write_message('grasp', 10 + i, msg)
    with open_bag(bag) as reader:
        read = [(c.topic, t, m.grasped) for c, t, m in messages(reader, reader.connections)]
    assert read == [('/so101/sim/grasp_state', 10, False), ('/so101/sim/grasp_state', 11, True),
                    ('/so101/sim/grasp_state', 12, True)]


def test_problems_are_named(tmp_path):
    with pytest.raises(BagError, match='does not exist'):
        with open_bag(tmp_path / 'missing'):
            pass
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BagError, match='not a readable rosbag2 recording'):
        with open_bag(tmp_path / 'empty'):
            pass
    with pytest.raises(BagError, match='exists already'):
        BagWriter(tmp_path / 'empty')
    writer = BagWriter(tmp_path / 'new')
    with pytest.raises(BagError, match='unknown message type my_msgs/msg/Thing for /x'):
        writer.add('x', '/x', 'my_msgs/msg/Thing')
    writer.discard()
    assert not (tmp_path / 'new').exists()


class Image:
    """An object with Image fields, as rclpy and rosbags messages both are."""

    def __init__(self, array, encoding):
        self.height, self.width = array.shape[:2]
        self.encoding = encoding
        self.step = self.width * (array.shape[2] if array.ndim == 3 else 1) + 2  # row padding
        padded = np.zeros((self.height, self.step), np.uint8)
        padded[:, :self.step - 2] = array.reshape(self.height, -1)
        self.data = padded.reshape(-1)


def test_every_encoding_decodes_to_rgb():
    rgb = frames(1)[0][:20, :30]
    assert np.array_equal(decode_image(Image(rgb, 'rgb8')), rgb)
    assert np.array_equal(decode_image(Image(rgb[..., ::-1].copy(), 'bgr8')), rgb)
    grey = rgb[..., 0]
    assert np.array_equal(decode_image(Image(grey, 'mono8')), np.repeat(grey[..., None], 3, 2))
    assert np.array_equal(pixels(Image(rgb[..., ::-1].copy(), 'bgr8')), rgb[..., ::-1])
    with pytest.raises(ValueError, match="unsupported image encoding 'rgba16'"):
        decode_image(Image(rgb, 'rgba16'))
    short = Image(rgb, 'rgb8')
    short.data = short.data[:-1]
    with pytest.raises(ValueError, match='bytes'):
        decode_image(short)


def test_a_full_frame_kept_as_jpeg_gives_the_processed_image_within_a_grey_level_or_two():
    store = typestore()
    frame = camera_frame()
    jpeg = compressed(store, frame, header(store, 5, 'wrist_camera'))
    assert jpeg.header.frame_id == 'wrist_camera' and jpeg.header.stamp.nanosec == 5
    assert jpeg.format.endswith('jpeg compressed bgr8') and len(jpeg.data) < frame.size / 10
    for of_jpeg in (preprocess(decode_image(jpeg)), processed_image(jpeg)):  # full, half decode
        error = np.abs(of_jpeg.astype(int) - preprocess(frame))
        assert error.mean() < 1.0 and error.max() <= 8
    image = store.types['sensor_msgs/msg/Image'](
        header=header(store, 5), height=480, width=640, encoding='rgb8', is_bigendian=0,
        step=640 * 3, data=frame.reshape(-1))
    assert np.array_equal(processed_image(image), preprocess(frame))
    broken = compressed(store, frame, header(store, 0))
    broken.data = broken.data[:10]
    with pytest.raises(ValueError, match='cannot decode'):
        decode_image(broken)
    with pytest.raises(ValueError, match='frame header'):
        processed_image(broken)
