"""The run report: moving averages, plots and the summary's figures."""
import json

from hilserl_common.records import append_record
from hilserl_experiments.report import compare, learner_panels, write_report


def add_episodes(arm, successes, first_end_s=1000.0):
    """Training episodes of one arm, one ending every 60 s of wall time, each 30 s long."""
    arm.mkdir(parents=True, exist_ok=True)
    for i, success in enumerate(successes):
        append_record(str(arm / 'episodes.jsonl'), {
            'episode': i, 'return': float(success), 'length': 20 if success else 100,
            'success': success, 'intervention_rate': 0.5 if i < 12 else 0.0,
            'intervention_steps': 10 if i < 12 else 0, 'gate_refusals': int(i == 4),
            'policy_version': i, 'sim_success': success != (i in (3, 25)),
            'wall_time': first_end_s + 60.0 * i, 'duration_s': 30.0})


def make_run(run, successes):
    add_episodes(run, successes)
    for i, stage in enumerate(['success'] * 42 + ['contact'] * 5 + ['far'] * 3):
        append_record(str(run / 'eval_episodes.jsonl'), {'episode': 100 + i,
                                                          'sim_stage': stage})
    append_record(str(run / 'eval_rounds.jsonl'), {
        'after_train_episodes': len(successes), 'episodes': 10, 'success_rate': 0.7,
        'policy_version': 9})
    (run / 'learner').mkdir()
    for step in range(5):
        append_record(str(run / 'learner' / 'learner_stats.jsonl'), {
            'optimization_step': 100 * step, 'critic_loss': 1.0 / (step + 1),
            'updates_per_s': 120.0, 'effective_utd': 18.0,
            'env_steps_by_actor': {'so101': 50 * step, 'so101_b': 30 * step}})
    (run / 'stages').mkdir()
    (run / 'stages' / 'evaluate.json').write_text(json.dumps(
        {'success_rate': 0.84, 'episodes': 50, 'mean_time_to_success_s': 3.2}))


def test_report_has_plots_and_the_figures(tmp_path):
    run = tmp_path / 'sim'
    run.mkdir()
    make_run(run, [False] * 10 + [True] * 20)
    summary = write_report(run)
    assert (run / 'report' / 'training.png').stat().st_size > 10_000
    assert (run / 'report' / 'learner.png').stat().st_size > 10_000
    text = summary.read_text()
    assert '30 episodes (61 an hour), 1400 env steps' in text  # 30 in 29.5 min
    assert 'success 100%, interventions 5%' in text        # the last 20 episodes
    assert '84% success (95% interval 71-92%) over 50 deterministic episodes' in text
    assert '| 30 | 10 | 70% | 40-89% | 9 |' in text  # the evaluation round
    assert '120 updates/s, effective UTD 18.0; transitions by arm: so101 200, so101_b 120' in text
    # episode 3 failed but the simulation saw a success; episode 25 the other way round
    assert '30 episodes checked against the simulation: 1 false successes, 1 missed' in text
    assert 'the gate refused 1 classifier successes' in text
    assert 'first success without a correction in episode 13' in text
    assert 'how far the episodes got: 42 success, 5 contact, 3 far' in text
    table = compare([run])
    assert '| sim | 30 | 61 | 1400 | 84% (71-92%) | 5% |' in table
    assert '## Arms' not in text  # one arm


def test_with_two_arms_the_report_shows_each_and_both(tmp_path):
    run = tmp_path / 'sim'
    run.mkdir()
    make_run(run, [False] * 10 + [True] * 20)
    add_episodes(run / 'arms' / 'so101_b', [False] * 20, first_end_s=1030.0)
    text = write_report(run).read_text()
    assert '50 episodes (102 an hour), 3400 env steps' in text  # 50 in 29.5 min
    assert '| so101 | 30 | 61 | 1400 | last 20: success 100%, interventions 5% |' in text
    assert '| so101_b | 20 | 62 | 2000 | last 20: success 0%, interventions 6% | 20 judged: ' \
        '0 false, 1 missed |' in text  # 20 in 19.5 min; episode 3 was a success it missed
    assert '| all arms | 50 | 102 | 3400 |' in text


def test_the_learner_plot_draws_the_actor_loss_terms_together_when_logged():
    old = [{'optimization_step': 1, 'critic_loss': 0.1, 'temperature': 0.01}]
    assert learner_panels(old) == [('critic loss', ['critic_loss']),
                                   ('temperature', ['temperature'])]
    new = [{**old[0], 'actor_entropy_term': 0.05, 'actor_q_term': 0.6, 'actor_bc_term': -3.0,
            'entropy': -4.5}]
    assert ('actor loss terms', ['actor_entropy_term', 'actor_q_term', 'actor_bc_term']) \
        in learner_panels(new)
    assert ('policy entropy', ['entropy']) in learner_panels(new)
