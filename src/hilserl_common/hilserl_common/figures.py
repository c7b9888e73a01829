"""The figures of a run that several places show or act on, computed here only, so the actor's
round records, the console, the main job's progress line and stopping rule, the report and the
benchmarks say the same."""
import math
from typing import Callable, List, Optional, Sequence, Tuple

Z_95 = 1.96  # two-sided 95% quantile of the normal distribution

# The window of every "last N episodes" figure and moving average: the report's plots and table,
# the console's plot, the main job's progress line and stopping rule. 20, as HIL-SERL's
# write-ups smooth their curves; an evaluation round is as long.
MOVING_AVERAGE_EPISODES = 20

# Learner statistics rows a windowed learner figure covers (30 s at the learner's 1 s period).
LEARNER_WINDOW_ROWS = 30


def last_episodes(episodes: Sequence[dict], window: int = MOVING_AVERAGE_EPISODES) -> list:
    return list(episodes)[-window:]


def success_share(episodes: Sequence[dict]) -> Optional[float]:
    """The share of these episodes that succeeded (None without episodes)."""
    return sum(bool(e['success']) for e in episodes) / len(episodes) if episodes else None


def intervention_share(episodes: Sequence[dict]) -> Optional[float]:
    """The share of these episodes' steps the operator drove (None without steps): corrected
    steps over all steps, not the mean of per-episode rates (a 10-step episode driven whole
    would weigh as much as a 100-step one corrected for a step)."""
    steps = sum(e['length'] for e in episodes)
    return sum(e['intervention_steps'] for e in episodes) / steps if steps else None


def mean_return(episodes: Sequence[dict]) -> Optional[float]:
    return sum(e['return'] for e in episodes) / len(episodes) if episodes else None


def moving(figure: Callable[[Sequence[dict]], Optional[float]], episodes: Sequence[dict],
           window: int = MOVING_AVERAGE_EPISODES) -> List[Optional[float]]:
    """`figure` of the trailing window (shorter at the start) at each episode: the curves of
    the report's and the console's plots."""
    episodes = list(episodes)
    return [figure(episodes[max(0, i + 1 - window):i + 1]) for i in range(len(episodes))]


def percent_text(value: Optional[float]) -> str:
    """'13%' (or '—' without a value): how every place writes a share."""
    return '—' if value is None else f'{100 * value:.0f}%'


def training_text(episodes: Sequence[dict], window: int = MOVING_AVERAGE_EPISODES) -> str:
    """'last 20: success 80%, interventions 2%': the training figures every progress line
    prints ('' before the first episode)."""
    recent = last_episodes(episodes, window)
    if not recent:
        return ''
    return (f'last {len(recent)}: success {percent_text(success_share(recent))}, interventions '
            f'{percent_text(intervention_share(recent))}')


def updates_per_env_step(stats: Sequence[dict],
                         rows: int = LEARNER_WINDOW_ROWS) -> Optional[float]:
    """Critic updates per env step over the last `rows` learner statistics rows, reaching further
    back when no env step arrived in them (an evaluation round sends none and the learner rests:
    0 there would read as a learner falling behind); None before two rows with steps between."""
    if not stats:
        return None
    last = stats[-1]
    start = max(0, len(stats) - 1 - rows)
    while start > 0 and stats[start]['env_steps'] >= last['env_steps']:
        start -= 1
    steps = last['env_steps'] - stats[start]['env_steps']
    if steps <= 0:
        return None
    return (last['optimization_step'] - stats[start]['optimization_step']) / steps


def updates_owed(row: dict) -> int:
    """Critic updates the learner is behind its rate (a learner statistics row). The learner's
    own count is negative when it is ahead (a resumed run whose journal holds steps it counts
    again, a rate lowered on resume): nothing is owed then."""
    return max(0, int(row.get('updates_owed') or 0))


def reward_agreement(episodes: Sequence[dict]) -> dict:
    """How the reward (classifier AND gate) judged episodes against the simulation's own
    verdict, where the actor recorded it: successes it invented and successes it missed."""
    judged = [e for e in episodes if 'sim_success' in e]
    return {'judged_episodes': len(judged),
            'false_successes': sum(bool(e['success'] and not e['sim_success']) for e in judged),
            'missed_successes': sum(bool(e['sim_success'] and not e['success']) for e in judged)}


def episodes_per_hour(episodes: Sequence[dict]) -> Optional[float]:
    """Episodes per hour of wall time, from the first one's start to the last one's end (what
    more arms buy); None without at least two episodes with times."""
    timed = [e for e in episodes if 'wall_time' in e and 'duration_s' in e]
    if len(timed) < 2:
        return None
    start = min(e['wall_time'] - e['duration_s'] for e in timed)
    hours = (max(e['wall_time'] for e in timed) - start) / 3600.0
    return len(timed) / hours if hours > 0 else None


def evaluation_round(records: Sequence[dict]) -> dict:
    """The figures of one evaluation round from its episodes' records (in order): what the
    actor writes to eval_rounds.jsonl and the console shows while a round goes on."""
    successes = [r for r in records if r['success']]
    steps = [r['steps_to_success'] for r in successes if r.get('steps_to_success') is not None]
    return {'episodes': len(records), 'success_rate': len(successes) / len(records),
            'success_interval': [round(bound, 4) for bound in
                                 success_interval(len(successes), len(records))],
            'mean_steps_to_success': sum(steps) / len(steps) if steps else None,
            'mean_time_to_success_s': mean_time_to_success_s(records),
            'policy_version': records[-1]['policy_version']}


def mean_time_to_success_s(records: Sequence[dict]) -> Optional[float]:
    """Mean simulated seconds from an episode's start to its success, over the successful
    episodes whose records have sim-clock stamps (start_s, end_s) and a length; None without
    any. A step's length is the episode's, so a changed control rate needs no setting here."""
    times = [r['steps_to_success'] * (r['end_s'] - r['start_s']) / r['length']
             for r in records if r['success'] and r.get('steps_to_success') is not None
             and r.get('length') and 'start_s' in r and 'end_s' in r]
    return sum(times) / len(times) if times else None


def success_interval(successes: int, episodes: int,
                     z: float = Z_95) -> Optional[Tuple[float, float]]:
    """The Wilson score interval (95% by default) of a success rate of `successes` out of
    `episodes` (None without episodes). An evaluation round has 10-20 episodes and rates near 0
    or 1, where the normal approximation's interval leaves [0, 1] or shrinks to nothing
    (20 of 20: 100-100%); Wilson's stays inside and keeps its width (20 of 20: 84-100%)."""
    if episodes <= 0:
        return None
    rate, spread = successes / episodes, z * z / episodes
    centre = (rate + spread / 2) / (1 + spread)
    half = z / (1 + spread) * math.sqrt(rate * (1 - rate) / episodes + spread / (4 * episodes))
    # At 0 or all of them the bound is the rate itself, exactly: rounding made 20 of 20's upper
    # bound 0.9999999999999999, below the rate, and the report's error bar refused it.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == episodes else min(1.0, centre + half)
    return low, high


def round_interval(record: dict) -> Optional[Tuple[float, float]]:
    """The interval of an evaluation round's record (eval_rounds.jsonl, the evaluate stage's
    figures): from its success rate and episode count, so older records have one too."""
    episodes = record.get('episodes') or 0
    return success_interval(round(record['success_rate'] * episodes), episodes)


def interval_text(interval: Optional[Tuple[float, float]]) -> str:
    """'49-94%' (or '—' without an interval): how every place writes one."""
    if interval is None:
        return '—'
    return f'{100 * interval[0]:.0f}-{100 * interval[1]:.0f}%'
