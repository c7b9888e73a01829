"""The figures of a run that several places show or act on, computed here only, so the actor's
round records, the main job's progress line and stopping rule, and the report say the same."""
import math
from typing import Optional, Sequence, Tuple

Z_95 = 1.96  # two-sided 95% quantile of the normal distribution


def intervention_share(episodes: Sequence[dict]) -> Optional[float]:
    """The share of these episodes' steps the operator drove (None without steps): the figure
    the report shows for the last episodes and the main job's stopping rule reads."""
    steps = sum(e['length'] for e in episodes)
    return sum(e['intervention_steps'] for e in episodes) / steps if steps else None


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
    return max(0.0, centre - half), min(1.0, centre + half)


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
