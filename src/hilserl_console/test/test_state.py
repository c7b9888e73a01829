"""What the page is sent: traces per episode, episode rows with moving averages, evaluation
rounds, learner figures over a window, diagnostics problems once each, and only the parts that
changed."""
from types import SimpleNamespace

from hilserl_common.figures import success_interval
from hilserl_common.records import append_record
from hilserl_common.run_layout import RunLayout
from hilserl_console import messages
from hilserl_console.state import ConsoleState, evaluation_rounds, run_history


def status(episode, step, reward=0.0, stamp=None):
    return {'episode': episode, 'step': step, 'reward': reward,
            'stamp': stamp if stamp is not None else episode * 100 + step}


def episode(number, success, mode='train', rate=0.0, ret=None):
    return {'episode': number, 'mode': mode, 'success': success,
            'return': float(success) if ret is None else ret, 'length': 10,
            'intervention_steps': round(10 * rate), 'intervention_rate': rate,
            'policy_version': number, 'duration_s': 1.0}


def test_a_new_episode_starts_a_new_reward_trace():
    state = ConsoleState()
    state.on_status(status(0, 1))
    state.on_reward({'probability': 0.2, 'threshold': 0.7, 'success': False, 'stamp': 1.0})
    state.on_status(status(0, 2, reward=1.0))
    part = state.snapshot()['status']
    assert part['trace'] == [[1.0, 0.2]] and part['given'] == [[1, 0.0], [2, 1.0]]
    state.on_status(status(1, 0))
    part = state.snapshot()['status']
    assert part['trace'] == [] and part['given'] == []
    assert part['reward']['threshold'] == 0.7


def test_episode_rows_carry_moving_averages_of_their_own_mode():
    state = ConsoleState(moving_average_episodes=2)
    state.on_episode(episode(0, True, rate=0.5))
    state.on_episode(episode(1, False, rate=0.0))
    state.on_episode(episode(2, True, mode='eval'))
    state.on_episode(episode(3, False))
    state.on_episode(episode(3, False))  # the same episode again (history, then topic)
    rows = state.snapshot()['episodes']['new']
    assert [r['episode'] for r in rows] == [0, 1, 2, 3]
    assert rows[1]['success_avg'] == 0.5 and rows[1]['intervention_share_avg'] == 0.25
    assert rows[2]['success_avg'] == 1.0          # the eval episode averages evals only
    assert rows[3]['success_avg'] == 0.0          # episodes 1 and 3


def test_a_page_is_sent_only_new_episodes_and_changed_parts():
    state = ConsoleState(history_episodes=2)
    versions = {}
    state.on_episode(episode(0, True))
    first = state.update_for(versions, 0)
    assert set(first) == {'episodes'}
    assert state.update_for(versions, first['episodes']['total']) == {}
    for n in (1, 2):
        state.on_episode(episode(n, False))
    later = state.update_for(versions, first['episodes']['total'])
    # the history keeps 2, yet the page still gets both new ones
    assert [r['episode'] for r in later['episodes']['new']] == [1, 2]


def test_evaluation_rounds_are_runs_of_evaluation_episodes():
    rows = [episode(0, True), episode(1, True, 'eval'), episode(2, False, 'eval'),
            episode(3, False), episode(4, True, 'eval')]
    rounds = evaluation_rounds(rows)
    assert [(r['first_episode'], r['episodes'], r['success_rate']) for r in rounds] == [
        (1, 2, 0.5), (4, 1, 1.0)]
    assert [r['after_train_episodes'] for r in rounds] == [1, 2]
    assert rounds[0]['success_interval'] == [round(b, 4) for b in success_interval(1, 2)]


def diagnostic(name, level, message, stamp=0):
    return SimpleNamespace(name=name, level=bytes([level]), message=message, hardware_id='x')


def test_a_diagnostics_problem_is_logged_once_and_its_recovery_too():
    state = ConsoleState(clock=lambda: 5.0)
    array = SimpleNamespace(status=[diagnostic('follower', 2, 'servo 3 does not answer')])
    for _ in range(3):
        state.on_diagnostics(messages.diagnostics(array))
    part = state.snapshot()['diagnostics']
    assert [p['message'] for p in part['log']] == ['servo 3 does not answer']
    assert part['current'][0]['level'] == 'error'
    state.on_diagnostics(messages.diagnostics(SimpleNamespace(
        status=[diagnostic('follower', 0, 'ok')])))
    part = state.snapshot()['diagnostics']
    assert part['current'] == [] and [p['level'] for p in part['log']] == ['error', 'ok']


def test_a_loss_not_computed_yet_is_sent_as_null():
    stamp = SimpleNamespace(sec=3, nanosec=500_000_000)
    fields = {name: 0 for name in messages.LEARNER_FIELDS}
    msg = SimpleNamespace(**{**fields, 'critic_loss': float('nan')},
                          header=SimpleNamespace(stamp=stamp), actor_ids=['so101', 'so101_b'],
                          actor_env_steps=[120, 80])
    stats = messages.learner_stats(msg)
    assert stats['critic_loss'] is None and stats['stamp'] == 3.5
    assert stats['env_steps_by_actor'] == {'so101': 120, 'so101_b': 80}


def test_after_a_restart_the_runs_episodes_are_shown_in_the_order_they_happened(tmp_path):
    layout = RunLayout(tmp_path)
    for number, mode in ((0, 'train'), (1, 'train'), (2, 'eval'), (3, 'train')):
        append_record(str(layout.episodes_path(mode)), episode(number, number == 2, mode))
    state = ConsoleState()
    for record in run_history(str(tmp_path)):
        state.on_episode(record)
    rows = state.snapshot()['episodes']
    assert [r['episode'] for r in rows['new']] == [0, 1, 2, 3]
    assert rows['eval_rounds'][0]['first_episode'] == 2
    assert run_history('') == []


def test_the_intervention_average_is_the_share_of_steps_corrected():
    state = ConsoleState(moving_average_episodes=2)
    state.on_episode({**episode(0, False), 'length': 90, 'intervention_steps': 9})
    state.on_episode({**episode(1, True), 'length': 10, 'intervention_steps': 10})
    row = state.snapshot()['episodes']['new'][-1]
    assert row['intervention_share_avg'] == 19 / 100   # the mean of the rates would say 55%


def test_demonstrations_are_numbered_and_averaged_apart_from_training():
    """The actor numbers episodes across modes, the 20 demonstrations of a main job first: the
    first training episode is the actor's episode 2 here, and the page's training episode 1."""
    state = ConsoleState()
    for number in (0, 1):
        state.on_episode(episode(number, True, mode='record', rate=1.0))
    state.on_episode(episode(2, False))
    state.on_episode(episode(3, True, mode='eval'))
    state.on_episode(episode(4, True))
    rows = state.snapshot()['episodes']['new']
    assert [(r['mode'], r['number']) for r in rows] == [
        ('record', 1), ('record', 2), ('train', 1), ('eval', 1), ('train', 2)]
    train = [r for r in rows if r['mode'] == 'train']
    assert train[0]['success_avg'] == 0.0 and train[0]['intervention_share_avg'] == 0.0
    assert train[1]['success_avg'] == 0.5


def learner_row(stamp, updates, env_steps, owed=0):
    return {'stamp': stamp, 'optimization_step': updates, 'env_steps': env_steps,
            'critic_loss': 1.0, 'actor_loss': 1.0, 'temperature': 0.01, 'updates_per_s': 50.0,
            'updates_owed': owed}


def test_updates_per_env_step_hold_through_a_window_without_steps_and_none_is_owed_ahead():
    state = ConsoleState()
    for second in range(10):      # 13 updates per step, 10 steps a second
        state.on_learner(learner_row(second, 130 * second, 10 * second))
    assert state.snapshot()['learner']['updates_per_env_step'] == 13.0
    for second in range(10, 60):  # an evaluation round: no steps, the learner rests
        state.on_learner(learner_row(second, 1170, 90, owed=-1474))
    part = state.snapshot()['learner']
    assert part['updates_per_env_step'] == 13.0   # not 0
    assert part['updates_owed'] == 0 and part['latest']['updates_owed'] == -1474


def test_a_round_counts_the_training_episodes_before_it_past_the_kept_history():
    state = ConsoleState(history_episodes=3)
    for number in range(5):
        state.on_episode(episode(number, True))
    for number in (5, 6):
        state.on_episode(episode(number, number == 5, mode='eval'))
    rounds = state.snapshot()['episodes']['eval_rounds']
    assert [(r['after_train_episodes'], r['episodes'], r['success_rate']) for r in rounds] == [
        (5, 2, 0.5)]
