"""What the simulated person decides while rehearsing the real-arm walkthrough: where success
starts in the frames a contact sheet shows, and what the mined frames show. The simulation tells
it only what a person's eyes would see at those frames (whether the cube is up: the simulation's
success at the frame's stamp); every decision reaches a label file through the command a person
types (hilserl_experiments.rehearsal). No ROS import here.
"""
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from hilserl_common.bags import connection_of, layout, messages, open_bag, stamp_ns
from reward_classifier.data.bags import read_episode_frames
from reward_classifier.journal import read_journal


def cube_up_in_bag(bag: Path) -> np.ndarray:
    """Per wrist frame of a simulated recording: is the cube up (the simulation's success at
    the frame's stamp, from the recording's sim/grasp_state)."""
    frames = read_episode_frames(bag)
    with open_bag(bag) as reader:
        connection = connection_of(reader, layout.GRASP_STATE, bag)
        seen = [(stamp_ns(msg), bool(msg.success))
                for _, _, msg in messages(reader, [connection])] if connection else []
    if not seen:
        raise ValueError(f'{bag} has no sim/grasp_state: not a simulated recording')
    stamps = np.array([s for s, _ in seen])
    newest = np.searchsorted(stamps, frames.stamps_ns, side='right') - 1
    return np.array([seen[i][1] if i >= 0 else False for i in newest])


def look_earlier(shown: Sequence[int], cube_up: np.ndarray) -> Optional[int]:
    """Where the next contact sheet centres when the cube is already up in the first frame
    shown (the lift began before it), so that it shows the frames just before; None once the
    frames shown reach the lift or the episode's start. Without this the cutoff fell on the
    first frame of the default sheet, 12 frames before the S, and the 20-60 frames before it
    with the cube already up were labelled failures."""
    first = min(shown)
    if first == 0 or not cube_up[first]:
        return None
    radius = (len(shown) - 1) // 2
    return max(0, first - 1 - radius)


def first_success(shown: Sequence[int], cube_up: np.ndarray) -> Optional[int]:
    """The first frame of those shown from which the cube stays up to the end, or None."""
    for frame in shown:
        if cube_up[frame:].all():
            return int(frame)
    return None


def cube_up_in_mined(mined_bag: Path, run_dir: Path) -> np.ndarray:
    """Per frame of a mined episode: is the cube up (the simulation's verdict the reward
    journal kept beside the frame; never read by mining itself in a rehearsal)."""
    frames = read_episode_frames(mined_bag)
    journal = read_journal(Path(run_dir) / 'reward_journal')
    stamps = np.round(journal['stamp_s'] * 1e9).astype(np.int64)
    rows = [int(np.argmin(np.abs(stamps - stamp))) for stamp in frames.stamps_ns]
    return journal['sim_success'][rows] == 1
