"""One run's records, many readers: the console, the report, the main job's progress line and
the in-process benchmark print the same training, evaluation and learner figures, because they
all take them from hilserl_common.figures.

The records are a main job's: 3 demonstrations (numbered first by the actor), then training
episodes with an evaluation round of 4 after every 5 (written by the actor's own
EvaluationSchedule), and the learner's statistics with an evaluation round's rest at the end."""
import importlib.util
import re
from pathlib import Path

import pytest

from hilserl_actor.config import ActorConfig
from hilserl_actor.evaluation import EvaluationSchedule
from hilserl_common.figures import interval_text, percent_text
from hilserl_common.records import append_record
from hilserl_common.run_layout import RunLayout
from hilserl_console.state import ConsoleState, run_history
from hilserl_experiments.main_job import training_progress
from hilserl_experiments.report import load_run, summarise, write_report

BENCHMARK = Path(__file__).resolve().parents[3] / 'benchmarks' / 'learning_in_process.py'
TRAIN_EPISODES = 27


def episode_record(number, mode, success, length, corrected, version):
    return {'episode': number, 'mode': mode, 'return': float(success), 'length': length,
            'success': success, 'steps_to_success': length if success else None,
            'intervention_steps': corrected, 'intervention_rate': corrected / length,
            'policy_version': version, 'duration_s': length / 10}


def write_run(run: Path) -> RunLayout:
    layout = RunLayout(run)
    layout.learner_dir.mkdir(parents=True)
    number = 0
    for _ in range(3):
        append_record(str(layout.episodes_path('record')),
                      episode_record(number, 'record', True, 60, 60, 0))
        number += 1
    config = ActorConfig(eval_every_episodes=5, eval_round_episodes=4)
    schedule = EvaluationSchedule(config)
    trained = 0
    while trained < TRAIN_EPISODES:
        evaluated = schedule.evaluating
        mode = 'eval' if evaluated else 'train'
        # long corrected failures early, short clean successes later: the share of steps and
        # the mean of per-episode rates differ
        success = (number * 7) % 10 < (3 if trained < 12 else 8)
        length = 40 if success else 100
        corrected = 0 if evaluated else (length // (2 + number % 4) if trained < 15 else
                                         number % 3)
        record = episode_record(number, mode, success, length, corrected, trained // 3)
        append_record(str(layout.episodes_path(mode)), record)
        summary = schedule.episode_done(evaluated, record)
        if summary is not None:
            append_record(str(layout.eval_rounds_path), summary)
        trained += not evaluated
        number += 1
    for second in range(60):  # 13 updates per env step, then an evaluation round's rest
        steps = 10 * min(second, 40)
        append_record(str(layout.learner_stats_path), {
            'time': 1000.0 + second, 'stamp': 50.0 + second, 'optimization_step': 13 * steps,
            'env_steps': steps, 'updates_per_s': 130.0, 'updates_owed': -5,
            'critic_loss': 0.5, 'actor_loss': -1.0, 'temperature': 0.01, 'entropy': 1.5,
            'actor_entropy_term': 0.01, 'actor_q_term': 1.0, 'actor_bc_term': 0.0})
    return layout


def benchmark_summary():
    spec = importlib.util.spec_from_file_location('learning_in_process', BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.summary


def console_of(layout: RunLayout) -> dict:
    state = ConsoleState()
    for record in run_history(str(layout.root)):
        state.on_episode(record)
    for row in layout.learner_stats():
        state.on_learner(row)
    return state.snapshot()


def test_the_console_the_report_the_progress_line_and_the_benchmark_agree(tmp_path):
    layout = write_run(tmp_path / 'run')
    console = console_of(layout)
    report = summarise(layout.root, load_run(layout.root))
    summary_md = write_report(layout.root).read_text()
    rounds = layout.eval_rounds()
    progress = training_progress(layout.episodes('train'), 300, rounds, layout.learner_stats())
    benchmark = benchmark_summary()(layout)

    # training: the last 20 training episodes, the demonstrations and evaluations apart
    rows = console['episodes']['new']
    train = [r for r in rows if r['mode'] == 'train']
    assert [r['number'] for r in train] == list(range(1, TRAIN_EPISODES + 1))
    assert train[0]['episode'] == 3   # the actor's number, after the 3 demonstrations
    last = train[-1]
    assert last['success_avg'] == report['training_success_last']
    assert last['intervention_share_avg'] == report['intervention_rate_last']
    episodes = layout.episodes('train')[-20:]
    per_episode = sum(e['intervention_rate'] for e in episodes) / 20
    assert percent_text(per_episode) != percent_text(last['intervention_share_avg']), \
        'premise: the mean of per-episode rates would print another number'
    text = (f'last 20: success {percent_text(last["success_avg"])}, interventions '
            f'{percent_text(last["intervention_share_avg"])}')
    for printed in (summary_md, progress, benchmark):
        assert text in printed

    # evaluation rounds: what the actor wrote is what the console shows (all but the time to
    # success, which episode_stats does not carry)
    shown = console['episodes']['eval_rounds']
    assert len(rounds) == len(shown) == 5
    for written, seen in zip(rounds, shown):
        for key in ('after_train_episodes', 'episodes', 'success_rate', 'success_interval',
                    'policy_version'):
            assert seen[key] == pytest.approx(written[key]), key
    final = shown[-1]
    assert (f'last evaluation {percent_text(final["success_rate"])} of {final["episodes"]} '
            f'(95% interval {interval_text(final["success_interval"])})') in progress
    assert f'| {interval_text(final["success_interval"])} |' in summary_md

    # the learner: 13 updates per env step over a window that ends in a rest, none owed
    learner = console['learner']
    assert learner['updates_per_env_step'] == 13.0 and learner['updates_owed'] == 0
    assert '13.0 per env step' in progress and '(13.0 per env step)' in benchmark
    assert not re.search(r'owed -', progress + benchmark)
