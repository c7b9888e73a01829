"""The actor's session without ROS: evaluation rounds (one policy version each), operator marks
and episode records, on an arm that follows its commands exactly (the real sim and graph are
tested in test_actor_graph and hilserl_experiments' in-process test)."""
import numpy as np
import pytest

from hilserl_actor.config import ActorConfig
from hilserl_actor.episode import EpisodeLoop, Snapshot
from hilserl_actor.evaluation import EvaluationSchedule
from hilserl_actor.policy_client import PolicyClient
from hilserl_actor.session import ActorSession
from hilserl_common.run_layout import RunLayout
from hilserl_learner.config import config_from
from hilserl_learner.policy.weights import serialize_policy
from hilserl_learner.sac.agent import SACAgent
from hilserl_testing.nodes import ListLog
from so101_kinematics.kinematics import Kinematics

IMAGE = np.zeros((128, 128, 3), np.uint8)


class StillPolicy:
    version = acting_version = 3

    def __call__(self, state, image, deterministic):
        return np.zeros(3), 1

    def hold(self, holding):
        return None


class KinematicIO:
    """An ActorIO whose arm is exactly where it was commanded; success after `success_after`
    steps of an episode (None: never), operator marks given per step."""

    def __init__(self, kinematics, success_after=None, marks=None):
        middle = (kinematics.lower + kinematics.upper) / 2
        self.joints = kinematics.inverse([0.25, 0.0, 0.07], middle, max_iterations=200).joints
        self.success_after = success_after
        self.marks = dict(marks or {})
        self.now_s = 0.0
        self.step = 0
        self.sent, self.finished, self.started = [], [], []
        self.statuses = []
        self.learner_silence = []  # learner_silent_s per call, then None (never heard)
        self.listening = []  # learner_listening per call, then True

    def wait_step(self):
        self.now_s += 0.1
        self.step += 1

    def stopping(self):
        return False

    def snapshot(self):
        success = self.success_after is not None and self.step >= self.success_after
        # the leader where the follower is, as an idle leader arm (a recording needs it)
        return Snapshot(self.now_s, self.joints.copy(), self.now_s, IMAGE, self.now_s, success,
                        self.now_s, leader_joints=self.joints.copy(), leader_time_s=self.now_s)

    def sim_state(self):
        return None

    def operator_event(self):
        return self.marks.pop(self.step, '')

    def paused(self):
        return False

    def learner_listening(self):
        return self.listening.pop(0) if self.listening else True

    def learner_silent_s(self):
        return self.learner_silence.pop(0) if self.learner_silence else None

    def step_status(self, status):
        self.statuses.append(status)

    def reset(self):
        self.step = 0
        return True

    def command(self, joints):
        self.joints = np.array(joints, float)

    def episode_started(self, episode_id, mode):
        self.started.append((episode_id, mode))

    def send_transition(self, transition, episode_id):
        self.sent.append((episode_id, transition))

    def episode_finished(self, record):
        self.finished.append(record)


class Recorder:
    def __init__(self):
        self.calls = []

    def start(self):
        self.calls.append('start')

    def frames_written(self):
        return 7

    def keep(self, success_frame):
        self.calls.append(('keep', success_frame))

    def discard(self):
        self.calls.append('discard')


@pytest.fixture(scope='module')
def kinematics():
    return Kinematics()


def session(kinematics, tmp_path, io, recorder=None, policy=None, **config):
    config = ActorConfig(output_dir=str(tmp_path), control_time_s=1.0, **config)
    return ActorSession(config, EpisodeLoop(config, kinematics, policy or StillPolicy()), io,
                        ListLog(), recorder, clock=lambda: io.now_s)


def test_a_round_of_evaluation_follows_every_n_training_episodes():
    schedule = EvaluationSchedule(ActorConfig(eval_every_episodes=2, eval_round_episodes=3))
    kinds = []
    for _ in range(7):
        evaluating = schedule.evaluating
        kinds.append('eval' if evaluating else 'train')
        summary = schedule.episode_done(evaluating, {'success': True, 'steps_to_success': 4,
                                                     'policy_version': 5})
        if kinds[-1] == 'eval' and not schedule.evaluating:
            assert summary['episodes'] == 3 and summary['success_rate'] == 1.0
            assert summary['after_train_episodes'] == 2
    assert kinds == ['train', 'train', 'eval', 'eval', 'eval', 'train', 'train']


def test_eval_mode_is_finished_after_its_episodes():
    schedule = EvaluationSchedule(ActorConfig(mode='eval', eval_episodes=2))
    assert schedule.evaluating and not schedule.finished
    schedule.episode_done(True, {'success': False, 'steps_to_success': None,
                                 'policy_version': 1})
    # 10 steps of an episode of 40 that spanned 8 simulated seconds (a 5 Hz loop): 2 s
    summary = schedule.episode_done(True, {'success': True, 'steps_to_success': 10,
                                           'length': 40, 'start_s': 100.0, 'end_s': 108.0,
                                           'policy_version': 1})
    assert schedule.finished and summary['success_rate'] == 0.5
    assert summary['mean_time_to_success_s'] == pytest.approx(2.0)


def test_a_round_records_the_95_percent_interval_of_its_success_rate():
    schedule = EvaluationSchedule(ActorConfig(mode='eval', eval_episodes=10))
    for i in range(10):
        summary = schedule.episode_done(True, {'success': i < 8, 'steps_to_success': 5,
                                               'policy_version': 1})
    assert summary['success_rate'] == 0.8
    assert summary['success_interval'] == pytest.approx([0.4902, 0.9433], abs=1e-4)


def test_periodic_rounds_have_20_episodes_unless_told():
    assert ActorConfig().eval_round_episodes == 20


def test_training_episodes_send_every_transition_and_write_records(kinematics, tmp_path):
    io = KinematicIO(kinematics, success_after=4)
    actor = session(kinematics, tmp_path, io)
    assert actor.run_episode() and actor.run_episode()
    records = RunLayout(tmp_path).episodes('train')
    assert [r['episode'] for r in records] == [0, 1]
    assert all(r['success'] and r['length'] == 3 for r in records)  # success seen at step 4
    assert [episode for episode, _ in io.sent] == [0, 0, 0, 1, 1, 1]
    assert io.sent[2][1].terminated and io.sent[2][1].reward == 1.0
    assert io.finished == records
    assert io.started == [(0, 'train'), (1, 'train')]  # after each reset, before its steps
    # A restarted actor numbers on: the learner must never see an episode id twice.
    assert session(kinematics, tmp_path, KinematicIO(kinematics)).episode_id == 2


def test_a_failure_mark_ends_the_episode_and_rerecord_discards_it(kinematics, tmp_path):
    recorder = Recorder()
    io = KinematicIO(kinematics, marks={3: 'failure'})
    actor = session(kinematics, tmp_path, io, recorder, mode='record')
    assert actor.run_episode()
    assert RunLayout(tmp_path).episodes('record')[0]['length'] == 2
    assert recorder.calls == ['start', ('keep', None)]
    io.marks = {2: 'rerecord'}
    assert actor.run_episode()
    assert recorder.calls[-2:] == ['start', 'discard']
    assert len(RunLayout(tmp_path).episodes('record')) == 1
    assert io.sent == []  # recordings are not training data for a learner


def test_a_success_mark_is_the_reward_and_its_frame_labels_the_recording(kinematics, tmp_path):
    recorder = Recorder()
    io = KinematicIO(kinematics, marks={5: 'success'})
    actor = session(kinematics, tmp_path, io, recorder, mode='record')
    actor.run_episode()
    record = RunLayout(tmp_path).episodes('record')[0]
    assert record['success'] and record['steps_to_success'] == 4
    assert recorder.calls[-1] == ('keep', 7)


def test_training_episodes_wait_for_a_learner_that_takes_them_and_is_heard(kinematics,
                                                                          tmp_path):
    io = KinematicIO(kinematics)
    actor = session(kinematics, tmp_path, io, learner_silence_s=5.0)
    io.listening = [False, False, True, True, True, True, True]
    io.learner_silence = [None, 2.0, 9.0, 30.0, 0.5]  # heard, silent, silent, heard again
    for _ in range(7):
        assert actor.run_episode()
    assert [episode for episode, _ in io.started] == [0, 1, 2]  # none while it is missing
    waiting = [s['waiting'] for s in io.statuses if s.get('waiting')]
    assert waiting == ['waiting for the learner: nothing takes /transitions yet'] * 2 + [
        'waiting for the learner: no word from it for 9 s',
        'waiting for the learner: no word from it for 30 s']
    log = actor.log.lines
    assert [line.split(':')[0] for line in log if 'learner' in line] == [
        'waiting for the learner, nothing takes /transitions yet', 'the learner is there',
        'waiting for the learner, no word from it for 9 s', 'the learner is there']
    # Evaluation needs no learner; and 0 turns the silence off.
    evaluating = KinematicIO(kinematics)
    evaluating.listening, evaluating.learner_silence = [False], [60.0]
    actor = session(kinematics, tmp_path / 'eval', evaluating, mode='eval', eval_episodes=1,
                    sim=False)
    actor.run_episode()
    assert evaluating.started
    never = KinematicIO(kinematics)
    never.learner_silence = [60.0]
    session(kinematics, tmp_path / 'never', never, learner_silence_s=0.0).run_episode()
    assert never.started


class StallingIO(KinematicIO):
    """The wrist image of step 3 is old: that step pauses."""

    def snapshot(self):
        snapshot = super().snapshot()
        if self.step == 3:
            snapshot.image_time_s = self.now_s - 10.0
        return snapshot


def test_a_mark_made_during_a_paused_step_counts_at_the_next_step(kinematics, tmp_path):
    io = StallingIO(kinematics, marks={3: 'failure'})
    session(kinematics, tmp_path, io).run_episode()
    assert RunLayout(tmp_path).episodes('train')[0]['length'] == 2   # not the full 10 steps


def test_a_paused_actor_starts_no_episode_and_says_so(kinematics, tmp_path):
    io = KinematicIO(kinematics)
    io.paused = lambda: True
    io.reset = lambda: pytest.fail('a paused actor reset the scene')
    assert session(kinematics, tmp_path, io).run_episode()
    assert io.statuses[-1]['waiting'] == 'paused by the operator' and io.statuses[-1]['paused']
    assert RunLayout(tmp_path).episodes('train') == []


def test_every_step_reports_where_the_episode_stands(kinematics, tmp_path):
    io = KinematicIO(kinematics)
    session(kinematics, tmp_path, io).run_episode()
    steps = [s['step'] for s in io.statuses]
    assert steps == sorted(steps) and steps[-1] == 10
    assert io.statuses[-1]['time_left_s'] == pytest.approx(0.0)
    assert io.statuses[0]['max_steps'] == 10 and io.statuses[0]['mode'] == 'train'


# --- one policy per evaluation round --------------------------------------------------------

@pytest.fixture(scope='module')
def learner_agent():
    """A small learner whose weights the tests broadcast (a small conv encoder: no ResNet)."""
    return SACAgent(config_from({'encoder': 'small_conv', 'latent_dim': 8, 'hidden_dims': [16],
                                 'gripper_hidden_dims': [8], 'device': 'cpu',
                                 'precision': 'fp32'}))


def weights(agent, version, shift=0.0):
    """A broadcast of version `version`: the agent's weights, the actor's mean shifted."""
    state = agent.policy_state_dict()
    state = {name: value + shift if name.startswith('actor.') and name.endswith('.bias')
             else value for name, value in state.items()}
    return serialize_policy(state, agent.config, agent.encoder.backbone.identity, version, 0)


def mean_action(client):
    state, image = np.zeros(18, np.float32), np.zeros((128, 128, 3), np.uint8)
    return client(state, image, deterministic=True)[0]


def test_a_held_policy_client_keeps_new_weights_until_released(learner_agent):
    client = PolicyClient(seed=0)
    assert client.load_bytes(*weights(learner_agent, 1), 1) is None and client.version == 1
    first = mean_action(client)
    assert client.hold(True) is None
    for version in (2, 3):
        assert client.load_bytes(*weights(learner_agent, version, shift=0.5), version) is None
    assert client.load_bytes(*weights(learner_agent, 2), 2) is None  # older than the kept one
    assert client.version == 1 and np.allclose(mean_action(client), first)
    assert client.hold(False) is None
    assert client.version == 3 and not np.allclose(mean_action(client), first)
    # Released, weights load as they come.
    assert client.load_bytes(*weights(learner_agent, 4), 4) is None and client.version == 4
    assert np.allclose(mean_action(client), first)


def test_weights_kept_during_a_hold_are_checked_when_loaded(learner_agent):
    client = PolicyClient(seed=0)
    client.load_bytes(*weights(learner_agent, 1), 1)
    client.hold(True)
    data, _ = weights(learner_agent, 2)
    assert client.load_bytes(data, '0' * 64, 2) is None
    assert 'checksum' in client.hold(False) and client.version == 1


class BroadcastingIO(KinematicIO):
    """A learner that broadcasts a new weights version before every step, as it does while
    the actor trains; the actor loads them between steps (its callback thread)."""

    def __init__(self, kinematics, policy, agent):
        super().__init__(kinematics)
        self.policy, self.agent, self.broadcasts = policy, agent, 0

    def wait_step(self):
        super().wait_step()
        self.broadcasts += 1
        self.policy.load_bytes(*weights(self.agent, self.broadcasts), self.broadcasts)


def test_an_evaluation_round_acts_with_one_policy_version(kinematics, tmp_path, learner_agent):
    policy = PolicyClient(seed=0)
    io = BroadcastingIO(kinematics, policy, learner_agent)
    # sim=False: evaluations judged by the reward input (this arm has no simulation)
    actor = session(kinematics, tmp_path, io, policy=policy, eval_every_episodes=1,
                    eval_round_episodes=2, sim=False)
    for _ in range(4):  # training, the round's two evaluations, training
        assert actor.run_episode()
    modes = [r['mode'] for r in io.finished]
    assert modes == ['train', 'eval', 'eval', 'train']
    before_round = io.finished[0]['policy_version']
    round_steps = [s for s in io.statuses if s['mode'] == 'eval']
    assert len(round_steps) >= 20  # a new version came before each of them
    assert {s['policy_version'] for s in round_steps} == {before_round}
    assert RunLayout(tmp_path).eval_rounds()[0]['policy_version'] == before_round
    # The policy the round judged is saved, as broadcast (the main job's final evaluation
    # judges it when training stopped on its rounds).
    saved = PolicyClient(seed=0)
    assert saved.load_file(str(RunLayout(tmp_path).round_policy_path(before_round))) is None
    assert saved.version == before_round
    # Training acts with the newest version again, and loads them as they come.
    after = [t.policy_version for episode, t in io.sent if episode == 3]
    assert after[0] > before_round + len(round_steps)
    assert after == sorted(after) and after[-1] > after[0]


def test_the_record_says_why_the_gate_refused_a_classifier_success(kinematics, tmp_path):
    """A success the classifier saw and the arm's readings did not confirm is no reward; the
    episode's record counts the refusals and keeps the last reason (a missed success is then
    told apart from a classifier that never fired)."""
    from hilserl_actor.reward_gate import RewardGate, RewardGateConfig
    io = KinematicIO(kinematics, success_after=2)  # jaws half open, the EE 7 cm up
    config = ActorConfig(output_dir=str(tmp_path), control_time_s=1.0)
    actor = ActorSession(config, EpisodeLoop(config, kinematics, StillPolicy()), io, ListLog(),
                         clock=lambda: io.now_s,
                         gate=RewardGate(RewardGateConfig(), kinematics))
    actor.run_episode()
    record = RunLayout(tmp_path).episodes('train')[0]
    assert not record['success'] and record['gate_refusals'] == record['length']
    assert 'open' in record['last_gate_refusal']
