"""Demo loading from rosbag2 recordings that the test writes itself, with rosbags directly (MCAP
and sqlite3, uncompressed: the layout of older recordings and of `ros2 bag record`) and with the
workspace's writer (compressed chunks, the full frame as JPEG beside the processed image):
observations and EE-delta actions rebuilt at the control rate, and the cache."""
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from hilserl_common.bags import BagWriter, typestore
from hilserl_common.bags.images import compressed
from hilserl_common.episode_labels import record_episode_label
from hilserl_learner.demos import loader
from hilserl_learner.demos.loader import DemoSettings, load_demos
from so101_description.model import JOINT_NAMES
from so101_kinematics.action_space import ee_delta_to_action
from so101_kinematics.kinematics import Kinematics

RATE_HZ = 30.0          # recorded topics
SUCCESS_AT_S = 1.5      # the reward classifier says success from here on
DURATION_S = 2.0
FULL_FRAME_OFFSET = 100  # full frames are one grey level 100 above the processed ones


def follower_joints(t):
    # A slow sweep of pan, lift and elbow; the gripper closes from t = 0.8 s.
    return np.array([0.3 * t, -0.6 + 0.2 * t, 0.3 + 0.1 * t, 1.5, 0.0,
                     0.8 if t < 0.8 else max(-0.17, 0.8 - 2.0 * (t - 0.8))])


def leader_joints(t):
    q = follower_joints(t + 0.1)
    q[5] = 0.8 if t < 0.7 else -0.17   # the operator closes the leader's gripper at 0.7 s
    return q


class RosbagsWriter:
    """rosbags' own writer, as a bag recorded elsewhere would be (no compression)."""

    def __init__(self, path, storage):
        self.writer = Writer(path, version=9, storage_plugin=storage)
        self.writer.open()
        self.connections = {}

    def add(self, key, topic, msgtype):
        self.connections[key] = self.writer.add_connection(topic, msgtype, typestore=typestore())

    def write(self, key, time_ns, data):
        self.writer.write(self.connections[key], time_ns, data)

    def close(self):
        self.writer.close()


def image_messages(images, header, value):
    """The wrist images of one frame: processed (grey level `value`), full frame (a 96x160
    frame whose crop and resize is grey level `value` + FULL_FRAME_OFFSET) or its JPEG."""
    Image = typestore().types['sensor_msgs/msg/Image']
    full = np.full((96, 160, 3), value + FULL_FRAME_OFFSET, np.uint8)
    forms = {
        'proc': ('wrist_camera/image_proc', Image(
            header=header, height=128, width=128, encoding='rgb8', is_bigendian=0, step=384,
            data=np.full(128 * 128 * 3, value, np.uint8))),
        'raw': ('wrist_camera/image_raw', Image(
            header=header, height=96, width=160, encoding='rgb8', is_bigendian=0, step=480,
            data=full.reshape(-1))),
        'compressed': ('wrist_camera/image_raw/compressed',
                       compressed(typestore(), full, header)),
        # the front camera, which the reward classifier looks through, never the policy
        'front': ('front_camera/image_proc', Image(
            header=header, height=128, width=128, encoding='rgb8', is_bigendian=0, step=384,
            data=np.full(128 * 128 * 3, 255, np.uint8))),
        'front_compressed': ('front_camera/image_raw/compressed',
                             compressed(typestore(), np.full((96, 160, 3), 255, np.uint8),
                                        header)),
    }
    return [forms[name] for name in images]


def write_bag(path, storage, success_topic='reward', images=('proc',), writer='rosbags'):
    """One episode; header stamps run on a simulation clock twice as fast as the recording
    clock (a faster-than-real-time simulation), so only the stamps give the control rate."""
    store = typestore()
    JointState = store.types['sensor_msgs/msg/JointState']
    Header = store.types['std_msgs/msg/Header']
    Time = store.types['builtin_interfaces/msg/Time']
    Bool = store.types['std_msgs/msg/Bool']
    Reward = store.types['hilserl_interfaces/msg/RewardPrediction']
    GraspState = store.types['hilserl_interfaces/msg/GraspState']
    Pose = store.types['geometry_msgs/msg/Pose']
    Point = store.types['geometry_msgs/msg/Point']
    Quaternion = store.types['geometry_msgs/msg/Quaternion']
    bag = RosbagsWriter(path, storage) if writer == 'rosbags' else BagWriter(path)
    for key, topic, msgtype in [
            ('joint', '/so101/joint_states', JointState.__msgtype__),
            ('leader', '/so101/leader/joint_states', JointState.__msgtype__),
            ('intervention', '/so101/intervention', Bool.__msgtype__),
            ('reward', '/so101/reward', Reward.__msgtype__),
            ('grasp_state', '/so101/sim/grasp_state', GraspState.__msgtype__)] + [
            (topic, f'/so101/{topic}', msg.__msgtype__)
            for topic, msg in image_messages(images, None, 0)]:
        bag.add(key, topic, msgtype)
    for i in range(int(DURATION_S * RATE_HZ) + 1):
        t = i / RATE_HZ
        stamp_ns = int(100e9 + t * 1e9)
        log_ns = int(1e9 + t * 0.5e9)
        header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                        frame_id='')

        def joints(q, header=header):
            return JointState(header=header, name=list(JOINT_NAMES), position=q,
                              velocity=np.zeros(0), effort=np.zeros(0))
        messages = [
            ('joint', joints(follower_joints(t))), ('leader', joints(leader_joints(t))),
            ('intervention', Bool(data=True)), *image_messages(images, header, i)]
        if success_topic is None:
            pass
        elif success_topic == 'reward':
            messages.append(('reward', Reward(header=header,
                                              probability=float(t >= SUCCESS_AT_S),
                                              success=t >= SUCCESS_AT_S, threshold=0.5)))
        else:
            messages.append(('grasp_state', GraspState(
                header=header, cube_pose=Pose(position=Point(x=0.0, y=0.0, z=0.0),
                                              orientation=Quaternion(x=0.0, y=0.0, z=0.0,
                                                                     w=1.0)),
                gripper_contact=False, grasped=False, cube_height=0.0,
                success=t >= SUCCESS_AT_S)))
        for name, msg in messages:
            bag.write(name, log_ns + 1000, store.serialize_cdr(msg, msg.__msgtype__))
    bag.close()


@pytest.mark.parametrize('storage, success_topic', [(StoragePlugin.MCAP, 'reward'),
                                                    (StoragePlugin.SQLITE3, 'reward'),
                                                    (StoragePlugin.MCAP, 'grasp_state')])
def test_a_recorded_episode_becomes_transitions_at_the_control_rate(tmp_path, storage,
                                                                    success_topic):
    bag = tmp_path / 'episode_0000'
    write_bag(bag, storage, success_topic)
    demos = load_demos([str(bag)], str(tmp_path / 'cache'), DemoSettings(10.0, 0.02, 0.05))

    # Ticks every 0.1 s from the first joint state; success is seen at tick 15 (t = 1.5 s).
    assert len(demos) == 15
    kinematics = Kinematics()
    for k, t in enumerate(demos):
        q, q_next = follower_joints(0.1 * k), follower_joints(0.1 * (k + 1))
        assert np.allclose(t.state[:6], q, atol=1e-5)
        assert np.allclose(t.next_state[:6], q_next, atol=1e-5)
        assert np.allclose(t.state[12:15], kinematics.position(q), atol=1e-5)
        expected = ee_delta_to_action(kinematics.position(q_next) - kinematics.position(q), 0.02)
        assert np.allclose(t.action, expected, atol=1e-5)
        assert t.image[0, 0, 0] == 3 * k and t.next_image[0, 0, 0] == 3 * (k + 1)
        assert t.is_intervention
        # Leader closed at 0.7 s while the follower was still open: close from tick 7 on,
        # then 'stay' once the follower has caught up (within the threshold).
        if k < 7:
            assert t.gripper_action == 1
        elif k == 7:
            assert t.gripper_action == 0
    assert np.allclose(demos[1].state[6:12], (follower_joints(0.1) - follower_joints(0.0)) / 0.1,
                       atol=1e-4)
    assert demos[-1].terminated and demos[-1].reward == 1.0 and not demos[-1].truncated
    assert not any(t.terminated or t.reward for t in demos[:-1])


@pytest.mark.parametrize('success_topic, label, steps', [
    ('reward', 30, 15),        # the reward recorded with the episode before the label
    ('grasp_state', 30, 15),   # the simulation's exact grasp state before the label
    (None, 30, 10),            # a real-arm recording: only the label
    (None, None, 20),          # nothing: the last step
])
def test_a_demonstration_ends_at_the_success_the_person_labelled(tmp_path, success_topic,
                                                                 label, steps):
    """The S comes seconds after the lift; the label (wrist frame 30 at 30 Hz: t = 1.0 s,
    tick 10) says where success began."""
    bag = tmp_path / 'episode_0000'
    write_bag(bag, StoragePlugin.MCAP, success_topic)
    if label is not None:
        record_episode_label(tmp_path / 'labels.yaml', bag.name, label)
    demos = load_demos([str(bag)], str(tmp_path / 'cache'))
    assert len(demos) == steps
    assert demos[-1].reward == 1.0 and demos[-1].terminated
    assert not any(t.terminated or t.reward for t in demos[:-1])
    if label is not None:  # a corrected label is converted again, not read from the cache
        record_episode_label(tmp_path / 'labels.yaml', bag.name, label + 3)
        assert len(load_demos([str(bag)], str(tmp_path / 'cache'))) == \
            steps + (success_topic is None)


@pytest.mark.parametrize('images, image_topic, offset', [
    (('proc', 'compressed'), '', 0),                  # a real-arm recording: as it was seen
    (('proc', 'compressed'), 'wrist_camera/image_raw/compressed', FULL_FRAME_OFFSET),  # re-crop
    (('compressed',), '', FULL_FRAME_OFFSET),         # only the full frame, as JPEG
    (('raw',), '', FULL_FRAME_OFFSET),                # only the full frame (ros2 bag record)
    (('front', 'proc'), '', 0),                       # both cameras in simulation
    (('front_compressed', 'front', 'compressed', 'proc'), '', 0),  # both on the real arm
])
def test_every_image_layout_gives_the_same_transitions(tmp_path, images, image_topic, offset):
    reference = load_demos([str(write_bag_at(tmp_path / 'reference'))], str(tmp_path / 'cache'))
    bag = tmp_path / 'episode_0000'
    write_bag(bag, StoragePlugin.MCAP, images=images, writer='workspace')
    demos = load_demos([str(bag)], str(tmp_path / 'cache'),
                       DemoSettings(image_topic=image_topic))
    assert len(demos) == len(reference) == 15
    for k, (t, r) in enumerate(zip(demos, reference)):
        assert np.array_equal(t.state, r.state) and np.array_equal(t.action, r.action)
        assert t.image.shape == (128, 128, 3)
        assert np.abs(t.image.astype(int) - (3 * k + offset)).max() <= 1  # JPEG: within 1


def write_bag_at(path):
    write_bag(path, StoragePlugin.MCAP)
    return path


def test_the_cache_spares_a_second_conversion(tmp_path, monkeypatch):
    bag = tmp_path / 'episode_0001'
    write_bag(bag, StoragePlugin.MCAP)
    first = load_demos([str(bag)], str(tmp_path / 'cache'))
    assert len(list((tmp_path / 'cache').glob('*.npz'))) == 1

    def no_conversion(*args):
        raise AssertionError('converted again despite the cache')
    monkeypatch.setattr(loader, 'convert_bag', no_conversion)
    again = load_demos([str(bag)], str(tmp_path / 'cache'))
    assert len(again) == len(first)
    assert all(np.array_equal(a.image, b.image) and np.array_equal(a.action, b.action)
               for a, b in zip(first, again))


def test_unreadable_or_missing_recordings_are_named(tmp_path):
    with pytest.raises(ValueError, match='does not exist'):
        load_demos([str(tmp_path / 'nothing')])
    (tmp_path / 'broken').mkdir()
    (tmp_path / 'broken' / 'metadata.yaml').write_text('not: a bag')
    with pytest.raises(ValueError, match='not a readable rosbag2 recording'):
        load_demos([str(tmp_path / 'broken')])
