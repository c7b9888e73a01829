"""A miniature main job through the real graphs: two demos, a tiny classifier, a few training
episodes, a short evaluation and the report; interrupted after its mining round and resumed
with a second simulated arm feeding the same learner."""
import json
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from hilserl_common.records import read_records
from hilserl_common.run_layout import RunLayout
from hilserl_testing.nodes import log_tail

pytestmark = pytest.mark.graph

MINIATURE = ['--demos', '2', '--encoder-episodes', '1', '--encoder-epochs', '0.5',
             '--classifier-episodes', '4', '--classifier-steps', '30',
             '--classifier-set', 'epochs=2', '--episodes', '4', '--episode-seconds', '3',
             '--eval-every', '2', '--eval-round-episodes', '1', '--final-eval-episodes', '2',
             '--mine-after', '2', '--real-time-factor', '1.0',  # a tiny learner keeps up
             '--set', 'learner.training_starts=20',
             '--console-port', '0']  # any free port: never one a parallel run holds


def main_job(output_dir, *more):
    """The job, its output going to a file (a pipe nobody reads while the test waits would
    fill and stall it)."""
    output = tempfile.TemporaryFile('w+')
    process = subprocess.Popen([sys.executable, '-m', 'hilserl_experiments.main_job',
                                '--output-dir', str(output_dir), *MINIATURE, *more],
                               stdout=output, stderr=subprocess.STDOUT, text=True)
    process.output = output
    return process


def finish(process, timeout, run_dir):
    """The job's output once it exits; past `timeout`, the job is stopped and the test fails
    with the end of its output and of every node's log, so a stall on CI can be read."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        logs = ''.join(log_tail(log, 15) for log in sorted(run_dir.glob('**/logs/*.log')))
        pytest.fail(f'the job ran past {timeout} s\n{output_of(process)[-6000:]}\n{logs}')
    return output_of(process)


def output_of(process) -> str:
    process.output.seek(0)
    return process.output.read()


def wait_for(condition, process, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(1.0)
    return condition()


@pytest.mark.timeout(1200)  # a few minutes on a quiet 2-core machine; more when it is shared
def test_the_miniature_pipeline_runs_every_stage_and_resumes(tmp_path):
    # One arm until the mining round after two episodes, stopped as training goes on.
    first = main_job(tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / 'stages' / 'mining.json').exists(), first,
                        timeout=480), 'training never reached the mining round'
        first.send_signal(signal.SIGINT)
        output = finish(first, 60, tmp_path)
    finally:
        first.kill()
    assert first.returncode == 130, output
    assert 'run the same command again to resume' in output
    assert (tmp_path / 'stages' / 'demos.json').exists()
    assert not (tmp_path / 'stages' / 'train.json').exists()
    trained = len(read_records(str(tmp_path / 'episodes.jsonl')))

    # Resumed with two arms, and a budget the first arm could not spend alone before the
    # second, started with it and evaluating nothing, ends an episode.
    second = main_job(tmp_path, '--robots', '2', '--episodes', str(trained + 4))
    try:
        output = finish(second, 600, tmp_path)
    finally:
        second.kill()
    assert second.returncode == 0, output
    assert 'demos: already done' in output and 'classifier: already done' in output

    # demos: rosbag2 MCAP episodes with labels
    labels = yaml.safe_load((tmp_path / 'demos' / 'labels.yaml').read_text())['episodes']
    assert len(labels) >= 2
    assert all((tmp_path / 'demos' / name / 'metadata.yaml').exists() for name in labels)
    # classifier: a model and its evaluation
    assert (tmp_path / 'reward_classifier' / 'reward_classifier.safetensors').exists()
    classifier = json.loads((tmp_path / 'reward_classifier' / 'reward_classifier.json').read_text())
    assert classifier['architecture']['views'] == ['wrist_camera', 'front_camera']
    assert 'resnet10_sim.safetensors' in classifier['encoder_identity']  # the pretrained one
    assert json.loads((tmp_path / 'stages' / 'classifier.json').read_text())['metrics']
    # training: transitions reached the learner, weights reached the actor, statistics flowed
    stats = read_records(str(tmp_path / 'learner' / 'learner_stats.jsonl'))
    assert stats and stats[-1]['env_steps'] > 0 and stats[-1]['optimization_step'] > 0
    episodes = read_records(str(tmp_path / 'episodes.jsonl'))
    assert max(e['policy_version'] for e in episodes) > 0
    # the second arm: its own records, its transitions in the one learner, the budget shared
    second_arm = read_records(str(tmp_path / 'arms' / 'so101_b' / 'episodes.jsonl'))
    assert second_arm and len(episodes) + len(second_arm) >= trained + 4
    assert set(stats[-1]['env_steps_by_actor']) == {'so101', 'so101_b'}
    # evaluation and report
    final = json.loads((tmp_path / 'stages' / 'evaluate.json').read_text())
    assert final['episodes'] == 2 and final['policy_version'] > 0
    assert (tmp_path / 'learner' / 'policy.safetensors').exists()
    # the mining round ran after two episodes (mining when the reward disagreed)
    mining = json.loads((tmp_path / 'stages' / 'mining.json').read_text())
    assert mining['episodes_judged'] >= 2
    for robot, arm in RunLayout(tmp_path).arms().items():
        assert (robot in mining['disagreed']) == (arm.mined_dir / 'labels.yaml').exists()
    assert (tmp_path / 'report' / 'training.png').exists()
    summary = (tmp_path / 'report' / 'summary.md').read_text()
    assert 'final evaluation' in summary and '| so101_b |' in summary
