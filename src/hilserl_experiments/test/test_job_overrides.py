"""The main job's per-graph parameter files: its seed, its stage overrides and the user's --set,
in that order of precedence."""
import numpy as np
import pytest
import yaml

from hilserl_experiments.job_steps import SEEDED_NODES, JobSteps
from hilserl_experiments.main_job_options import parse_options


def overrides(tmp_path, *argv, sections=None):
    steps = JobSteps(parse_options(['--output-dir', str(tmp_path), *argv]))
    return yaml.safe_load(open(steps.overrides_file('train', sections or {})))


def test_the_seed_reaches_every_node_that_draws_random_numbers(tmp_path):
    document = overrides(tmp_path, '--seed', '3')
    for node in SEEDED_NODES:
        assert document[f'/**/{node}']['ros__parameters']['seed'] == 3


def test_stage_overrides_keep_the_seed_and_the_users_setting_wins(tmp_path):
    document = overrides(tmp_path, '--seed', '3', '--set', 'learner.seed=5',
                         sections={'learner': {'utd_ratio': 4}})
    assert document['/**/learner']['ros__parameters'] == {'seed': 5, 'utd_ratio': 4}
    assert document['/**/sim']['ros__parameters'] == {'seed': 3}


def test_a_malformed_setting_names_itself(tmp_path):
    with pytest.raises(RuntimeError, match="--set 'learner': expected NODE.PARAM=VALUE"):
        overrides(tmp_path, '--set', 'learner')


def test_the_policy_is_evaluated_at_the_speed_it_trained_at(tmp_path):
    """Training and the final evaluation at --real-time-factor; demonstrations (no learner,
    no policy) in real time."""
    steps = JobSteps(parse_options(['--output-dir', str(tmp_path)]))
    factors = {name: steps.graph(name, {}).arguments['real_time_factor']
               for name in ('record_demos', 'train', 'eval')}
    assert factors == {'record_demos': '1.0', 'train': '0.3', 'eval': '0.3'}


def test_training_stops_when_it_succeeds_and_the_operator_is_no_longer_needed(tmp_path):
    """The stopping rule reads the interventions the progress line and the report show: the
    share of the last 20 training episodes' steps."""
    from hilserl_common.records import append_record
    from hilserl_experiments.main_job import MainJob
    job = MainJob(parse_options(['--output-dir', str(tmp_path)]))
    for _ in range(2):
        append_record(str(tmp_path / 'eval_rounds.jsonl'), {'episodes': 20, 'success_rate': 0.9})
    for i in range(20):  # 2 of 20 episodes corrected for 9 of their 40 steps: 2.25% of steps
        append_record(str(tmp_path / 'episodes.jsonl'), {
            'mode': 'train', 'success': True, 'length': 40, 'policy_version': i,
            'intervention_steps': 9 if i < 2 else 0, 'intervention_rate': 0.225 if i < 2 else 0})
    assert job.training_finished()
    assert 'interventions 2%' in job.describe_training()
    append_record(str(tmp_path / 'episodes.jsonl'), {
        'mode': 'train', 'success': True, 'length': 100, 'policy_version': 20,
        'intervention_steps': 100, 'intervention_rate': 1.0})  # 109 of 860 steps: 13%
    assert not job.training_finished()
    assert 'interventions 13%' in job.describe_training()


def test_training_stops_only_after_two_rounds_in_a_row_at_the_target(tmp_path):
    from hilserl_common.records import append_record
    from hilserl_experiments.main_job import MainJob
    job = MainJob(parse_options(['--output-dir', str(tmp_path), '--target-success', '0.8']))
    for i in range(20):  # the operator is no longer needed
        append_record(str(tmp_path / 'episodes.jsonl'), {
            'mode': 'train', 'success': True, 'length': 40, 'policy_version': i,
            'intervention_steps': 0, 'intervention_rate': 0.0})

    def evaluation(successes, episodes=20):
        append_record(str(tmp_path / 'eval_rounds.jsonl'),
                      {'episodes': episodes, 'success_rate': successes / episodes})

    evaluation(16)
    assert not job.training_finished()  # one round at the target: 58-92% could be chance
    assert 'last evaluation 80% of 20 (95% interval 58-92%)' in job.describe_training()
    evaluation(15)
    assert not job.training_finished()  # 75%: the count starts again
    evaluation(17)
    assert not job.training_finished()
    evaluation(8, episodes=10)
    assert not job.training_finished()  # a round shorter than --eval-round-episodes
    evaluation(16)
    evaluation(18)
    assert job.training_finished()
    assert 'last evaluation 90% of 20 (95% interval 70-97%)' in job.describe_training()


def test_after_mining_the_misrewarded_episodes_leave_the_learners_journal(tmp_path):
    """Where the learner resumes from: its journal under the run's learner directory."""
    from hilserl_experiments.main_job import MainJob
    from hilserl_learner.replay.journal import TransitionJournal
    job = MainJob(parse_options(['--output-dir', str(tmp_path)]))
    assert job.forget_rewards({'so101': [1]}) == {'removed': 0, 'unidentified': 0}  # no learner
    journal = TransitionJournal(str(job.layout.learner_dir / 'journal'), 100, 100)
    journal.append({'reward': np.arange(6, dtype=np.float32)}, to_demo=np.zeros(6, bool),
                   episodes=np.array([0, 0, 1, 1, 2, 2]))
    assert job.forget_rewards({'so101': [1]}) == {'removed': 2, 'unidentified': 0}
    assert list(next(journal.replay())['reward']) == [0, 1, 4, 5]


def test_with_two_arms_only_the_misrewarded_arms_episode_leaves_the_journal(tmp_path):
    """Each arm numbers its own episodes: episode 1 of so101_b is not episode 1 of so101."""
    from hilserl_experiments.main_job import MainJob
    from hilserl_learner.replay.journal import TransitionJournal
    job = MainJob(parse_options(['--output-dir', str(tmp_path), '--robots', '2']))
    job.layout.arm('so101_b').root.mkdir(parents=True)
    journal = TransitionJournal(str(job.layout.learner_dir / 'journal'), 100, 100)
    journal.append({'reward': np.arange(6, dtype=np.float32)}, to_demo=np.zeros(6, bool),
                   episodes=np.array([1, 1, 1, 1, 2, 2]),
                   actors=['so101', 'so101', 'so101_b', 'so101_b', 'so101', 'so101_b'])
    assert job.forget_rewards({'so101_b': [1]}) == {'removed': 2, 'unidentified': 0}
    assert list(next(journal.replay())['reward']) == [0, 1, 4, 5]


def test_the_final_evaluation_progress_says_how_many_succeeded(tmp_path):
    from hilserl_common.records import append_record
    from hilserl_experiments.main_job import MainJob
    job = MainJob(parse_options(['--output-dir', str(tmp_path)]))
    assert job.describe_evaluation(0, 50) == 'final evaluation: 0/50 episodes'
    for success in (True, True, False, True):
        append_record(str(tmp_path / 'eval_episodes.jsonl'), {'success': success})
    assert job.describe_evaluation(1, 50) == 'final evaluation: 3/50 episodes, 2 succeeded (67%)'


def test_a_second_arm_trains_in_its_own_namespace_clock_folder_and_seed(tmp_path):
    """--robots 2: the first arm's graph has the learner; the second is the robot side only,
    under arms/so101_b with its own clock, console port and seed, the run's classifier, and no
    evaluation rounds."""
    from hilserl_experiments.main_job import MainJob
    job = MainJob(parse_options(['--output-dir', str(tmp_path), '--robots', '2', '--seed', '3']))
    first, second = job.train_graphs()
    assert 'learner' in {s.name for s in first.specs}
    assert first.arguments['robot'] == 'so101' and first.arguments['console_port'] == '8080'
    assert {s.name for s in second.specs} == {s.name for s in first.specs} - {'learner'}
    assert {k: second.arguments[k] for k in ('robot', 'clock', 'output_dir', 'console_port')} == {
        'robot': 'so101_b', 'clock': '/so101_b/clock',
        'output_dir': str(tmp_path / 'arms' / 'so101_b'), 'console_port': '8081'}
    document = yaml.safe_load(open(second.arguments['config_file']))
    assert document['/**/sim']['ros__parameters']['seed'] == 1003
    assert document['/**/actor']['ros__parameters']['eval_every_episodes'] == 0
    assert document['/**/reward_classifier']['ros__parameters']['model_path'] == \
        str(tmp_path / 'reward_classifier')
    assert yaml.safe_load(open(first.arguments['config_file']))['/**/sim'][
        'ros__parameters']['seed'] == 3


def test_the_budget_and_the_progress_count_every_arms_episodes(tmp_path):
    from hilserl_common.records import append_record
    from hilserl_experiments.main_job import MainJob
    job = MainJob(parse_options(['--output-dir', str(tmp_path), '--robots', '2',
                                 '--episodes', '5']))
    (tmp_path / 'arms' / 'so101_b').mkdir(parents=True)
    for i in range(5):
        arm = tmp_path if i % 2 else tmp_path / 'arms' / 'so101_b'
        append_record(str(arm / 'episodes.jsonl'), {
            'episode': i // 2, 'success': i == 4, 'length': 50, 'policy_version': i,
            'intervention_steps': 0, 'wall_time': 100.0 + i})
    assert [e['policy_version'] for e in job.train_episodes()] == [0, 1, 2, 3, 4]
    assert job.training_finished()
    assert job.describe_training().endswith('episodes by arm: so101 2, so101_b 3')


def test_robots_outside_the_range_name_it(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_options(['--output-dir', str(tmp_path), '--robots', '0'])
    assert '--robots 0: between 1 and 8 arms' in capsys.readouterr().err
