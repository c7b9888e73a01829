"""A reward classifier judged on the frames a training run's classifier actually scored.

    python benchmarks/reward_on_journal.py --model runs/X/reward_classifier --run runs/Y
        [--threshold 0.99] [--encoder-weights FILE]

The run's reward journal holds every frame its serving classifier scored in training, with the
simulation's own success at that moment. This scores those frames again with `--model` (the
run's own, or one trained on other data) and prints, at the model's threshold:
  - frames: how many the simulation calls a success, the false positives and the misses;
  - training episodes the model would first reward on a frame the simulation calls a failure
    (`rewarded_a_failure`), and those with a success it would never reward (`never_rewarded`).
The policy's frames, not a generated dataset's, are the ones a reward must get right; a model
that would reward earlier or later than the served one would have changed what followed, so
these are the frames up to each episode's end as it happened: a model that rewards later than
the served one may look as if it never rewarded a success it would have rewarded a step later.
The actor's reward gate (the EE's height, the gripper) is not applied here: it may refuse some
of the episodes rewarded on a failure.
"""
import argparse
import json

import numpy as np

from hilserl_common.run_layout import RunLayout
from reward_classifier.journal import in_episode, read_journal
from reward_classifier.model import load_classifier, read_description


def judged_episodes(journal, records, success_frame):
    """Per training episode with journaled frames: (episode, first rewarded index or None,
    simulation success at that frame, any simulation success in the episode)."""
    judged = []
    for record in records:
        inside = np.nonzero(in_episode(journal, record))[0]
        if not len(inside):
            continue
        fired = np.nonzero(success_frame[inside])[0]
        first = int(fired[0]) if len(fired) else None
        sim = journal['sim_success'][inside] == 1
        judged.append((record['episode'], first, bool(sim[first]) if first is not None else None,
                       bool(sim.any())))
    return judged


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True, help='a saved reward classifier folder')
    parser.add_argument('--run', required=True, help='a simulated run with a reward journal')
    parser.add_argument('--threshold', type=float, help='default: the model\'s own')
    parser.add_argument('--encoder-weights', default='',
                        help='the image encoder the model was trained on (default: its own)')
    args = parser.parse_args()
    encoder = args.encoder_weights or \
        read_description(args.model)[1].get('training_config', {}).get('encoder_weights', '')
    model, description = load_classifier(args.model, encoder)
    threshold = description['threshold'] if args.threshold is None else args.threshold
    layout = RunLayout(args.run)
    journal = read_journal(layout.reward_journal)
    probability = model.predict(journal['frames'])
    success_frame = probability >= threshold
    sim = journal['sim_success'] == 1
    episodes = judged_episodes(journal, [r for r in layout.episodes('train')
                                         if r.get('start_s') is not None], success_frame)
    on_failure = [e for e, first, right, _ in episodes if first is not None and not right]
    never = [e for e, first, _, any_sim in episodes if first is None and any_sim]
    figures = {'frames': len(sim), 'sim_success_frames': int(sim.sum()),
               'false_positive_frames': int((success_frame & ~sim).sum()),
               'missed_frames': int((~success_frame & sim).sum()),
               'episodes': len(episodes), 'rewarded_a_failure': on_failure, 'never_rewarded': never,
               'threshold': threshold}
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
