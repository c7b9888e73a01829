"""The report of a run: the plots every HIL-SERL write-up shows (episode reward and intervention
rate with moving averages), success and evaluation, learner statistics, and summary.md.

    python -m hilserl_experiments.report runs/sim                       # one run
    python -m hilserl_experiments.report --compare runs/sim runs/sim_no_demos \\
        runs/sim_no_interventions
"""
import argparse
import dataclasses
import json
from pathlib import Path
from typing import List

import matplotlib

matplotlib.use('Agg')  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hilserl_common.figures import (  # noqa: E402
    LEARNER_WINDOW_ROWS,
    MOVING_AVERAGE_EPISODES,
    episodes_per_hour,
    interval_text,
    intervention_share,
    last_episodes,
    mean_return,
    moving,
    percent_text,
    reward_agreement,
    round_interval,
    success_share,
    training_text,
)
from hilserl_common.run_layout import RunLayout  # noqa: E402


def plot_training(run: Path, episodes: List[dict], rounds: List[dict], path: Path):
    figure, (reward, interventions, success) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    index = np.arange(len(episodes))
    returns = [e['return'] for e in episodes]
    reward.plot(index, returns, '.', alpha=0.3, label='episode')
    reward.plot(index, moving(mean_return, episodes), label=f'MA{MOVING_AVERAGE_EPISODES}')
    reward.set_ylabel('episode reward')
    rates = [100 * e['intervention_rate'] for e in episodes]
    interventions.plot(index, rates, '.', alpha=0.3, label='episode')
    # the share of the window's steps corrected, as every place reports interventions
    interventions.plot(index, [100 * v for v in moving(intervention_share, episodes)],
                       label=f'last {MOVING_AVERAGE_EPISODES}: share of steps')
    interventions.set_ylabel('intervention rate (%)')
    success.plot(index, [100 * v for v in moving(success_share, episodes)],
                 label=f'training MA{MOVING_AVERAGE_EPISODES} (with interventions)')
    if rounds:
        # with each round's 95% interval: at 20 episodes a round's rate is known to +-20 points
        rates = np.array([100 * r['success_rate'] for r in rounds])
        intervals = np.array([[100 * bound for bound in round_interval(r)] for r in rounds])
        success.errorbar([r['after_train_episodes'] for r in rounds], rates,
                         yerr=[rates - intervals[:, 0], intervals[:, 1] - rates], fmt='o-',
                         capsize=3, label='deterministic evaluation (95% interval)')
    success.set_ylabel('success (%)')
    success.set_xlabel('training episode')
    for axis in (reward, interventions, success):
        axis.grid(alpha=0.3)
        axis.legend(loc='upper left')
    figure.suptitle(f'HIL-SERL on the simulated SO-101: {run.name}')
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# Panels of the learner plot: a label and the learner_stats fields drawn in it. The actor loss's
# terms share a panel, so the one that pulls the policy (e.g. while the temperature rises) shows.
LEARNER_PANELS = [
    ('critic loss', ('critic_loss',)), ('actor loss', ('actor_loss',)),
    ('actor loss terms', ('actor_entropy_term', 'actor_q_term', 'actor_bc_term')),
    ('temperature', ('temperature',)), ('policy entropy', ('entropy',)), ('mean Q', ('q_mean',)),
    ('critic updates / s', ('updates_per_s',)), ('effective UTD', ('effective_utd',))]


def learner_panels(stats: List[dict]) -> List[tuple]:
    """(label, fields) of each panel that has data in `stats` (older runs lack some fields)."""
    panels = [(label, [k for k in keys if any(k in s for s in stats)])
              for label, keys in LEARNER_PANELS]
    return [(label, keys) for label, keys in panels if keys]


def plot_learner(stats: List[dict], path: Path):
    panels = learner_panels(stats)
    if not panels:
        return
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 2.2 * len(panels)), sharex=True)
    axes = np.atleast_1d(axes)
    steps = [s.get('optimization_step', i) for i, s in enumerate(stats)]
    for axis, (label, keys) in zip(axes, panels):
        for key in keys:
            axis.plot(steps, [s.get(key, np.nan) for s in stats], label=key)
        if len(keys) > 1:
            axis.legend(loc='upper left', fontsize='small')
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel('critic updates')
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _stage(run: Path, name: str) -> dict:
    path = run / 'stages' / f'{name}.json'
    return json.loads(path.read_text()) if path.exists() else {}


def _seconds(value) -> str:
    return '—' if value is None else f'{value:.1f} s'


@dataclasses.dataclass
class RunLogs:
    """The logs of one run, read once."""
    episodes: List[dict]   # training episodes (every arm's, in the order they ended)
    rounds: List[dict]     # evaluation rounds (actor)
    stats: List[dict]      # learner statistics
    by_arm: dict           # {robot: its training episodes}


def load_run(run: Path) -> RunLogs:
    layout = RunLayout(run)
    return RunLogs(layout.episodes_of_arms('train'), layout.eval_rounds(),
                   layout.learner_stats(),
                   {robot: arm.episodes('train') for robot, arm in layout.arms().items()})


def summarise(run: Path, logs: RunLogs) -> dict:
    episodes, rounds, stats = logs.episodes, logs.rounds, logs.stats
    final = _stage(run, 'evaluate')
    last = last_episodes(episodes)
    return {
        'run': run.name,
        'train_episodes': len(episodes),
        'env_steps': sum(e['length'] for e in episodes),
        'episodes_per_hour': episodes_per_hour(episodes),
        'training_success_last': success_share(last),
        'intervention_rate_last': intervention_share(last),
        'first_autonomous_success': next((i + 1 for i, e in enumerate(episodes)
                                          if e['success'] and not e['intervention_steps']),
                                         None),
        'gate_refusals': sum(e.get('gate_refusals', 0) for e in episodes),
        'evaluation_rounds': len(rounds),
        'final_success_rate': final.get('success_rate'),
        'final_success_interval': round_interval(final) if 'success_rate' in final else None,
        'final_stages': final_stages(run, final),
        'final_episodes': final.get('episodes'),
        'final_from_last_round': final.get('reused_round_episodes', 0),
        'final_mean_time_to_success_s': final.get('mean_time_to_success_s'),
        'optimization_steps': stats[-1].get('optimization_step') if stats else None,
        'updates_per_s': float(np.mean([s.get('updates_per_s', 0)
                                         for s in stats[-LEARNER_WINDOW_ROWS:]]))
        if stats else None,
        # over the whole run (the learner's windowed figure covers only its latest steps)
        'effective_utd': stats[-1].get('effective_utd_total', stats[-1].get('effective_utd'))
        if stats else None,
        # several arms feeding the learner: the transitions it stored from each
        'env_steps_by_actor': stats[-1].get('env_steps_by_actor', {}) if stats else {},
        **reward_agreement(episodes),
    }


def arm_rows(logs: RunLogs) -> List[str]:
    """A table of each arm's training figures and all of them together (several arms)."""
    if len(logs.by_arm) < 2:
        return []
    rows = ['## Arms', '', '| arm | training episodes | episodes / hour | env steps | training '
            '| reward against the simulation |',
            '|---|---|---|---|---|---|']
    for arm, episodes in [*logs.by_arm.items(), ('all arms', logs.episodes)]:
        agreement = reward_agreement(episodes)
        rows.append(f'| {arm} | {len(episodes)} | {_rate(episodes_per_hour(episodes))} | '
                    f'{sum(e["length"] for e in episodes)} | '
                    f'{training_text(episodes) or "—"} | {agreement["judged_episodes"]} judged: '
                    f'{agreement["false_successes"]} false, {agreement["missed_successes"]} '
                    f'missed |')
    return rows + ['']


def _rate(value) -> str:
    return '—' if value is None else f'{value:.0f}'


def _by_arm(env_steps: dict) -> str:
    if len(env_steps) < 2:
        return ''
    return '; transitions by arm: ' + ', '.join(f'{actor} {steps}' for actor, steps
                                                 in sorted(env_steps.items()))


def _from_last_round(count: int) -> str:
    return f' ({count} of them the last round\'s, of the same policy)' if count else ''


def final_stages(run: Path, final: dict) -> dict:
    """How far the final evaluation's episodes got in the simulation (success, grasped,
    contact, near, far): where a policy fails, not only how often. Its episodes are the
    `episode_slices` of eval_episodes.jsonl (the last round's and its own), or in a run
    without them its last `episodes`."""
    recorded, count = RunLayout(run).episodes('eval'), final.get('episodes') or 0
    slices = final.get('episode_slices') or ([[len(recorded) - count, len(recorded)]]
                                             if count else [])
    episodes = [e for start, stop in slices for e in recorded[start:stop]]
    stages = [e['sim_stage'] for e in episodes if 'sim_stage' in e]
    return {stage: stages.count(stage) for stage in ('success', 'grasped', 'contact', 'near',
                                                     'far') if stage in stages}


def write_report(run) -> Path:
    run = Path(run)
    out = run / 'report'
    out.mkdir(parents=True, exist_ok=True)
    logs = load_run(run)
    rounds = logs.rounds
    if logs.episodes:
        plot_training(run, logs.episodes, rounds, out / 'training.png')
    if logs.stats:
        plot_learner(logs.stats, out / 'learner.png')
    figures = summarise(run, logs)
    demos = _stage(run, 'demos')
    classifier = _stage(run, 'classifier').get('metrics', {})
    lines = [f'# HIL-SERL on the simulated SO-101 — {run.name}', '',
             '| stage | result |', '|---|---|',
             f'| demos | {demos.get("episodes", "—")} recorded, '
             f'{demos.get("successful", "—")} successful |',
             f'| reward classifier | validation accuracy '
             f'{percent_text(classifier.get("accuracy"))}, '
             f'precision {percent_text(classifier.get("precision"))}, '
             f'recall {percent_text(classifier.get("recall"))} |',
             f'| training | {figures["train_episodes"]} episodes '
             f'({_rate(figures["episodes_per_hour"])} an hour), {figures["env_steps"]} env '
             f'steps, {training_text(logs.episodes) or "none yet"} |',
             f'| reward in training | {figures["judged_episodes"]} episodes checked against '
             f'the simulation: {figures["false_successes"]} false successes, '
             f'{figures["missed_successes"]} missed; the gate refused '
             f'{figures["gate_refusals"]} classifier successes |',
             f'| hand-over | first success without a correction in episode '
             f'{figures["first_autonomous_success"] or "—"} |',
             f'| learner | {figures["optimization_steps"] or "—"} critic updates, '
             f'{figures["updates_per_s"] or 0:.0f} updates/s, effective UTD '
             f'{figures["effective_utd"] or 0:.1f}{_by_arm(figures["env_steps_by_actor"])} |',
             f'| final evaluation | {percent_text(figures["final_success_rate"])} success (95% '
             f'interval {interval_text(figures["final_success_interval"])}) over '
             f'{figures["final_episodes"] or 0} deterministic episodes'
             f'{_from_last_round(figures["final_from_last_round"])}, mean time to success '
             f'{_seconds(figures["final_mean_time_to_success_s"])}; how far the episodes got: '
             f'{_stages(figures["final_stages"])} |', '']
    lines += arm_rows(logs)
    if rounds:
        lines += ['## Evaluation rounds', '', '| after training episode | episodes | success | '
                  '95% interval | policy version |', '|---|---|---|---|---|']
        lines += [f'| {r["after_train_episodes"]} | {r["episodes"]} | '
                  f'{percent_text(r["success_rate"])} | {interval_text(round_interval(r))} | '
                  f'{r["policy_version"]} |' for r in rounds]
        lines.append('')
    lines += ['![training](training.png)', '', '![learner](learner.png)', '']
    summary = out / 'summary.md'
    summary.write_text('\n'.join(lines))
    (out / 'figures.json').write_text(json.dumps(figures, indent=1))
    return summary


def _stages(stages: dict) -> str:
    return ', '.join(f'{count} {stage}' for stage, count in stages.items()) or '—'


def compare(runs: List[Path]) -> str:
    """Runs side by side (Markdown): the ablations' final success, or the episodes an hour of
    one arm against two."""
    rows = ['| run | training episodes | episodes / hour | env steps | final success (95% '
            f'interval) | interventions (last {MOVING_AVERAGE_EPISODES}) |',
            '|---|---|---|---|---|---|']
    for run in runs:
        f = summarise(Path(run), load_run(Path(run)))
        rows.append(f'| {f["run"]} | {f["train_episodes"]} | {_rate(f["episodes_per_hour"])} | '
                    f'{f["env_steps"]} | '
                    f'{percent_text(f["final_success_rate"])} '
                    f'({interval_text(f["final_success_interval"])}) | '
                    f'{percent_text(f["intervention_rate_last"])} |')
    return '\n'.join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', help='run output directories')
    parser.add_argument('--compare', action='store_true', help='print the side-by-side table')
    options = parser.parse_args(argv)
    if options.compare:
        print(compare([Path(r) for r in options.runs]))
        return
    for run in options.runs:
        print(write_report(run))


if __name__ == '__main__':
    main()
