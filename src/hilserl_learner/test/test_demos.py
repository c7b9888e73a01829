"""Demo loading from rosbag2 recordings that the test writes itself with rosbags (MCAP and
sqlite3): observations and EE-delta actions rebuilt at the control rate, and the cache."""
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from hilserl_learner.demos import loader
from hilserl_learner.demos.loader import DemoSettings, load_demos
from so101_kinematics.action_space import ee_delta_to_action
from so101_kinematics.kinematics import Kinematics
from so101_kinematics.model import JOINT_NAMES

RATE_HZ = 30.0          # recorded topics
SUCCESS_AT_S = 1.5      # the reward classifier says success from here on
DURATION_S = 2.0


def follower_joints(t):
    # A slow sweep of pan, lift and elbow; the gripper closes from t = 0.8 s.
    return np.array([0.3 * t, -0.6 + 0.2 * t, 0.3 + 0.1 * t, 1.5, 0.0,
                     0.8 if t < 0.8 else max(-0.17, 0.8 - 2.0 * (t - 0.8))])


def leader_joints(t):
    q = follower_joints(t + 0.1)
    q[5] = 0.8 if t < 0.7 else -0.17   # the operator closes the leader's gripper at 0.7 s
    return q


def write_bag(path, storage, success_topic='reward'):
    """One episode; header stamps run on a simulation clock twice as fast as the recording
    clock (a faster-than-real-time simulation), so only the stamps give the control rate."""
    typestore = loader._typestore()
    JointState = typestore.types['sensor_msgs/msg/JointState']
    Image = typestore.types['sensor_msgs/msg/Image']
    Header = typestore.types['std_msgs/msg/Header']
    Time = typestore.types['builtin_interfaces/msg/Time']
    Bool = typestore.types['std_msgs/msg/Bool']
    Reward = typestore.types['hilserl_interfaces/msg/RewardPrediction']
    GraspState = typestore.types['hilserl_interfaces/msg/GraspState']
    Pose = typestore.types['geometry_msgs/msg/Pose']
    Point = typestore.types['geometry_msgs/msg/Point']
    Quaternion = typestore.types['geometry_msgs/msg/Quaternion']
    with Writer(path, version=9, storage_plugin=storage) as writer:
        topics = {
            'joint': writer.add_connection('/so101/joint_states', JointState.__msgtype__,
                                           typestore=typestore),
            'leader': writer.add_connection('/so101/leader/joint_states',
                                            JointState.__msgtype__, typestore=typestore),
            'image': writer.add_connection('/so101/wrist_camera/image_proc', Image.__msgtype__,
                                           typestore=typestore),
            'intervention': writer.add_connection('/so101/intervention', Bool.__msgtype__,
                                                  typestore=typestore),
            'reward': writer.add_connection('/so101/reward', Reward.__msgtype__,
                                            typestore=typestore),
            'grasp_state': writer.add_connection('/so101/sim/grasp_state',
                                                 GraspState.__msgtype__, typestore=typestore)}
        for i in range(int(DURATION_S * RATE_HZ) + 1):
            t = i / RATE_HZ
            stamp_ns = int(100e9 + t * 1e9)
            log_ns = int(1e9 + t * 0.5e9)
            header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                            frame_id='')

            def joints(q):
                return JointState(header=header, name=list(JOINT_NAMES), position=q,
                                  velocity=np.zeros(0), effort=np.zeros(0))
            messages = [
                ('joint', joints(follower_joints(t))), ('leader', joints(leader_joints(t))),
                ('image', Image(header=header, height=128, width=128, encoding='rgb8',
                                is_bigendian=0, step=384,
                                data=np.full(128 * 128 * 3, i, np.uint8))),
                ('intervention', Bool(data=True)),
            ]
            if success_topic == 'reward':
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
                writer.write(topics[name], log_ns + 1000,
                             typestore.serialize_cdr(msg, msg.__msgtype__))


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
    with pytest.raises(ValueError, match='cannot be read'):
        load_demos([str(tmp_path / 'broken')])
