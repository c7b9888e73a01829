"""Hard-negative mining: the frames of a training run that the classifier got wrong, or might
have, become new labelled data.

From a run's reward journal (what the serving node scored) and its episode records, the frames
that are mined are those the classifier rewarded, and every scored frame of an episode whose
reward and outcome disagreed. They are written as a labelled dataset of their own (one bag per
source episode, labels.yaml), to train on together with the original dataset:
  - in simulation the labels are the simulation's own success at each frame;
  - on the real arm nobody knows them yet: the label file marks every frame unlabelled
    (needs_review) and a contact sheet per episode shows them, for the operator to label
    (success_from_frame or success_ranges) before training on it.
"""
import dataclasses
from pathlib import Path
from typing import Dict, List

import numpy as np

from hilserl_common.episode_labels import write_needs_review
from hilserl_common.run_layout import RunLayout
from hilserl_common.stamps import NS_PER_S
from reward_classifier.journal import UNKNOWN, in_episode, read_journal


@dataclasses.dataclass
class MinedEpisode:
    name: str                   # e.g. mined_0012: frames of training episode 12
    frames: np.ndarray          # N x V x 128 x 128 x 3
    stamps_s: np.ndarray        # N
    sim_success: np.ndarray     # N of 1, 0 or UNKNOWN
    probability: np.ndarray     # N
    why: str                    # 'rewarded' and/or 'disagreed'


def mine_run(run_dir, threshold: float, simulation: bool = True) -> List[MinedEpisode]:
    """The mined frames of a run, per training episode (see the module docstring); `threshold`
    judges the frames journaled without the node's own.
    `simulation=False` mines a simulated run as the real arm's: the rewarded frames only, none
    labelled (a rehearsal of the real arm's labelling)."""
    journal = read_journal(RunLayout(run_dir).reward_journal)
    if not simulation:
        journal['sim_success'] = np.full_like(journal['sim_success'], UNKNOWN)
    # The frames the node rewarded: by the threshold it served with (its own setting, or the
    # model's), journaled beside each frame.
    judged_by = np.where(np.isfinite(journal['threshold']), journal['threshold'], threshold)
    mined = []
    for record in RunLayout(run_dir).episodes('train'):
        if record.get('start_s') is None:
            continue
        inside = in_episode(journal, record)
        rewarded = inside & (journal['probability'] >= judged_by)
        disagreed = (simulation and 'sim_success' in record
                     and record['sim_success'] != record['success'])
        chosen = inside if disagreed else rewarded
        if not chosen.any():
            continue
        why = ' and '.join(w for w, hit in (('rewarded', rewarded.any()),
                                            ('disagreed', disagreed)) if hit)
        mined.append(MinedEpisode(f'mined_{record["episode"]:04d}',
                                  journal['frames'][chosen], journal['stamp_s'][chosen],
                                  journal['sim_success'][chosen], journal['probability'][chosen],
                                  why))
    return mined


def write_mined(episodes: List[MinedEpisode], output, views, namespace: str = '') -> Dict:
    """The mined episodes as a labelled dataset in `output`; a summary for the command."""
    from hilserl_common.bags import EpisodeBagWriter
    from reward_classifier.contact_sheet import contact_sheet, label_colour, save_png
    from reward_classifier.data.labels import labels_from_success_flags, write_labels

    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f'{output} is not empty; mine into a new folder')
    output.mkdir(parents=True, exist_ok=True)
    labels, review, counts = [], [], {'frames': 0, 'success': 0, 'unlabelled': 0}
    for episode in episodes:
        with EpisodeBagWriter(output / episode.name, namespace, cameras=views) as writer:
            for frames, stamp in zip(episode.frames, episode.stamps_s):
                for view, image in zip(views, frames):
                    writer.write_image(int(round(stamp * NS_PER_S)), image, view)
        counts['frames'] += len(episode.frames)
        if np.any(episode.sim_success == UNKNOWN):
            review.append(episode.name)
            counts['unlabelled'] += len(episode.frames)
            captions = [f'{i} p={p:.2f}' for i, p in enumerate(episode.probability)]
            sheet = contact_sheet([np.hstack(f) for f in episode.frames], captions,
                                  [label_colour(0)] * len(captions), 6,
                                  f'{episode.name} ({episode.why}): label its success frames')
            save_png(output / f'{episode.name}_contact_sheet.png', sheet)
            continue
        flags = episode.sim_success.astype(bool)
        counts['success'] += int(flags.sum())
        labels.append(labels_from_success_flags(episode.name, flags))
    topic = ('/' + namespace.strip('/') + '/' if namespace.strip('/') else '/') + \
        f'{views[0]}/image_proc'
    write_labels(output / 'labels.yaml', labels, image_topic=topic)
    write_needs_review(output, review)
    return {**counts, 'episodes': len(episodes), 'needs_review': review}
