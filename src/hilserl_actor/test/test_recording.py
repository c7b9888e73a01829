"""Episode bags are rosbag2 MCAP directories that the rosbags readers (demo loader, classifier
datasets) read back, with this workspace's own messages included, every camera of the graph, and
on the real arm each camera's full frame as JPEG."""
import numpy as np
import yaml
from rosbags.highlevel import AnyReader

from hilserl_actor.recording import EPISODE_TOPICS, EpisodeRecorder, bag_directories
from hilserl_common.bags import decode_image, layout
from hilserl_common.bags.images import compressed

# The node writes the bytes of raw subscriptions; here the same CDR comes from the typestore.


def joint_state_cdr(store, position):
    types = store.types
    stamp = types['builtin_interfaces/msg/Time'](sec=0, nanosec=0)
    header = types['std_msgs/msg/Header'](stamp=stamp, frame_id='')
    msg = types['sensor_msgs/msg/JointState'](header=header, name=['shoulder_pan'],
                                              position=np.array([position]),
                                              velocity=np.zeros(0), effort=np.zeros(0))
    return store.serialize_cdr(msg, 'sensor_msgs/msg/JointState')


def reward_cdr(store, probability):
    types = store.types
    stamp = types['builtin_interfaces/msg/Time'](sec=2, nanosec=0)
    header = types['std_msgs/msg/Header'](stamp=stamp, frame_id='')
    msg = types['hilserl_interfaces/msg/RewardPrediction'](header=header, probability=probability,
                                                          success=True, threshold=0.5)
    return store.serialize_cdr(msg, 'hilserl_interfaces/msg/RewardPrediction')


def record_one(recorder, positions, success_probability):
    recorder.start()
    for i, position in enumerate(positions):
        recorder.write('joint_states', 1_000_000_000 + i * 100_000_000,
                       joint_state_cdr(recorder.typestore, position))
    recorder.write('reward', 2_000_000_000, reward_cdr(recorder.typestore, success_probability))
    return recorder.stop()


def test_episodes_are_bags_that_read_back(tmp_path):
    recorder = EpisodeRecorder(str(tmp_path), '/so101', sim=False)
    first = record_one(recorder, [0.1, 0.2, 0.3], 0.9)
    second = record_one(recorder, [0.4], 0.8)
    assert [p.name for p in bag_directories(str(tmp_path))] == ['episode_0000', 'episode_0001']
    metadata = yaml.safe_load((first / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert metadata['storage_identifier'] == 'mcap' and metadata['version'] == 8
    assert metadata['message_count'] == 4

    with AnyReader([first], default_typestore=recorder.typestore) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        assert topics['/so101/joint_states'] == 'sensor_msgs/msg/JointState'
        assert topics['/so101/reward'] == 'hilserl_interfaces/msg/RewardPrediction'
        values = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages()]
    assert [m.position[0] for m in values[:3]] == [0.1, 0.2, 0.3]
    assert abs(values[3].probability - 0.9) < 1e-6
    assert second.name == 'episode_0001'


def test_a_discarded_episode_leaves_nothing_and_numbering_continues(tmp_path):
    recorder = EpisodeRecorder(str(tmp_path), '/so101', sim=True)
    record_one(recorder, [0.1], 0.5)
    recorder.start()
    recorder.write('joint_states', 5, joint_state_cdr(recorder.typestore, 0.0))
    assert recorder.stop(keep=False) is None
    assert [p.name for p in bag_directories(str(tmp_path))] == ['episode_0000']
    assert EpisodeRecorder(str(tmp_path), '/so101', sim=True).next_index() == 1


def image_cdr(store, frame):
    types = store.types
    header = types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=3, nanosec=0), frame_id='wrist_camera')
    msg = types['sensor_msgs/msg/Image'](header=header, height=frame.shape[0],
                                         width=frame.shape[1], encoding='rgb8', is_bigendian=0,
                                         step=frame.shape[1] * 3, data=frame.reshape(-1))
    return store.serialize_cdr(msg, 'sensor_msgs/msg/Image')


def jpeg_cdr(store, frame):
    """A full frame as the camera node publishes it (image_raw/compressed)."""
    types = store.types
    header = types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=3, nanosec=0), frame_id='wrist_camera')
    return store.serialize_cdr(compressed(store, frame, header), layout.COMPRESSED_IMAGE)


def test_on_the_real_arm_the_full_frame_is_kept_as_the_camera_sent_it(tmp_path):
    assert 'wrist_camera/image_raw/compressed' not in EpisodeRecorder(
        str(tmp_path / 's'), '/so101', sim=True).topics
    recorder = EpisodeRecorder(str(tmp_path), '/so101', sim=False)
    assert recorder.topics['wrist_camera/image_raw/compressed'] == layout.COMPRESSED_IMAGE
    assert 'wrist_camera/image_raw' not in recorder.topics  # never the decoded full frame
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 320:] = (30, 200, 60)
    sent = jpeg_cdr(recorder.typestore, frame)
    recorder.write('wrist_camera/image_raw/compressed', 1, sent)  # before a bag: dropped
    recorder.start()
    for i in range(5):
        recorder.write('wrist_camera/image_raw/compressed', 2_000_000_000 + i, sent)
    bag = recorder.stop()
    with AnyReader([bag], default_typestore=recorder.typestore) as reader:
        stored = {c.topic: c.msgtype for c in reader.connections}
        kept = [raw for c, _, raw in reader.messages()
                if c.topic == '/so101/wrist_camera/image_raw/compressed']
    assert stored['/so101/wrist_camera/image_raw/compressed'] == layout.COMPRESSED_IMAGE
    assert len(kept) == 5 and all(bytes(raw) == sent for raw in kept)  # byte for byte
    jpeg = recorder.typestore.deserialize_cdr(kept[0], layout.COMPRESSED_IMAGE)
    assert jpeg.header.stamp.sec == 3 and 'jpeg' in jpeg.format
    assert np.abs(decode_image(jpeg).astype(int) - frame).mean() < 2


def test_every_camera_of_the_graph_is_recorded(tmp_path):
    """The reward classifier looks through the front camera too: the bags must hold it, as
    processed image and, on the real arm, as the full frame in JPEG."""
    cameras = ('wrist_camera', 'front_camera')
    simulated = EpisodeRecorder(str(tmp_path / 'sim'), '/so101', sim=True, cameras=cameras)
    assert {t for t in simulated.topics if 'camera' in t} == {
        'wrist_camera/image_proc', 'front_camera/image_proc'}
    assert 'wrist_camera/image_proc' not in EPISODE_TOPICS  # the cameras come from the graph
    recorder = EpisodeRecorder(str(tmp_path / 'arm'), '/so101', sim=False, cameras=cameras)
    frame = np.full((480, 640, 3), 90, np.uint8)
    small = np.full((128, 128, 3), 40, np.uint8)
    recorder.start()
    for i in range(3):
        for camera in cameras:
            recorder.write(f'{camera}/image_proc', 2_000_000_000 + i,
                           image_cdr(recorder.typestore, small))
            recorder.write(f'{camera}/image_raw/compressed', 2_000_000_000 + i,
                           jpeg_cdr(recorder.typestore, frame))
    assert recorder.frames_written() == 3  # labels count the wrist camera's frames
    bag = recorder.keep(success_frame=1)
    with AnyReader([bag], default_typestore=recorder.typestore) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections if 'camera' in c.topic}
        types = {c.topic: c.msgtype for c in reader.connections}
    assert counts == {f'/so101/{camera}/{topic}': 3 for camera in cameras
                      for topic in ('image_proc', 'image_raw/compressed')}
    assert types['/so101/front_camera/image_raw/compressed'] == 'sensor_msgs/msg/CompressedImage'
    labels = yaml.safe_load((tmp_path / 'arm' / 'labels.yaml').read_text())
    assert labels['episodes'] == {'episode_0000': {'success_from_frame': 1}}
