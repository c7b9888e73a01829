"""The final evaluation counts the training's last evaluation round when it judged the very
policy the final evaluation judges, and only then."""
import json

import pytest
import torch

from hilserl_common.figures import mean_time_to_success_s
from hilserl_common.records import append_record
from hilserl_experiments.main_job import MainJob
from hilserl_experiments.main_job_options import parse_options
from hilserl_experiments.report import final_stages
from hilserl_learner.config import config_from
from hilserl_learner.policy.weights import policy_file_version, serialize_policy


def episode(version: int, success: bool = True, steps: int = 30) -> dict:
    # 50 steps over 5 simulated seconds: 0.1 s a step
    return {'mode': 'eval', 'policy_version': version, 'success': success, 'length': 50,
            'steps_to_success': steps if success else None, 'start_s': 100.0, 'end_s': 105.0}


@pytest.fixture
def job(tmp_path):
    """A run whose training ended on a round of 3 episodes of policy 7 (after one of 5)."""
    job = MainJob(parse_options(['--output-dir', str(tmp_path)]))
    for record in [episode(5), episode(7), episode(7, success=False), episode(7)]:
        append_record(str(job.layout.episodes_path('eval')), record)
    job.mark_done('train', {'last_evaluation': {'episodes': 3, 'policy_version': 7},
                            'eval_episodes_recorded': 4})
    return job


def test_the_last_round_counts_when_it_ran_the_saved_version(job):
    assert job.last_round_slice(7, wanted=50) == [1, 4]
    assert job.last_round_slice(7, wanted=2) == [1, 3]  # no more than the evaluation wants


def test_another_version_or_a_mixed_round_does_not_count(job):
    assert job.last_round_slice(8, wanted=50) is None
    marker = json.loads(job.marker('train').read_text())
    job.mark_done('train', {**marker, 'last_evaluation': {'episodes': 4, 'policy_version': 7}})
    assert job.last_round_slice(7, wanted=50) is None  # its first episode ran version 5


def test_a_run_trained_before_rounds_were_counted_runs_every_episode(job):
    marker = json.loads(job.marker('train').read_text())
    del marker['eval_episodes_recorded']
    job.mark_done('train', marker)
    assert job.last_round_slice(7, wanted=50) is None


def test_a_saved_policy_files_version_is_read_from_its_header(tmp_path):
    config = config_from({'encoder': 'small_conv'})
    data, _ = serialize_policy({'w': torch.zeros(2)}, config, 'none', 12, 340)
    (tmp_path / 'policy.safetensors').write_bytes(data)
    assert policy_file_version(tmp_path / 'policy.safetensors') == 12


def test_the_mean_time_to_success_is_in_simulated_seconds():
    records = [episode(7, steps=30), episode(7, steps=10), episode(7, success=False)]
    assert mean_time_to_success_s(records) == pytest.approx(2.0)
    assert mean_time_to_success_s([episode(7, success=False)]) is None


def test_the_policy_judged_is_the_one_that_passed_when_the_rounds_stopped_training(job):
    learner_policy = job.layout.policy_path
    learner_policy.parent.mkdir(parents=True)
    learner_policy.write_bytes(b'learner')
    passed = job.layout.round_policy_path(7)
    passed.parent.mkdir(parents=True)
    passed.write_bytes(b'round')
    assert job.final_policy() == learner_policy  # the budget ended training
    marker = json.loads(job.marker('train').read_text())
    job.mark_done('train', {**marker, 'reached_target': True})
    assert job.final_policy() == passed
    passed.unlink()  # a run from before rounds saved their policy
    assert job.final_policy() == learner_policy


def test_the_report_counts_the_stages_of_the_final_evaluations_own_episodes(job, tmp_path):
    for stage in ('far', 'success', 'near', 'success', 'success'):
        append_record(str(job.layout.episodes_path('eval')), {**episode(7), 'sim_stage': stage})
    # eval_episodes.jsonl: 4 without stages, then far, success, near, success, success
    final = {'episodes': 3, 'episode_slices': [[5, 6], [7, 9]]}
    assert final_stages(tmp_path, final) == {'success': 3}
    assert final_stages(tmp_path, {'episodes': 3}) == {'success': 2, 'near': 1}  # older runs
