"""Shared fixtures of the reward classifier tests: small synthetic episode bags written with the
package's own bag writer, and a model trained on them once per session."""
import warnings
from pathlib import Path

import numpy as np
import pytest

from hilserl_common.bags import EpisodeBagWriter
from reward_classifier.data.labels import EpisodeLabels, write_labels

# Episode name -> (frames, success_from_frame); None never succeeds.
SYNTHETIC_EPISODES = {'episode_000': (16, 9), 'episode_001': (16, None),
                      'episode_002': (16, 5), 'episode_003': (16, 12),
                      'episode_004': (16, 0), 'episode_005': (16, None)}


def synthetic_frame(success: bool, rng: np.random.Generator) -> np.ndarray:
    """A 128x128 scene: a table with a red cube on it (failure), or the cube held up high in
    front of a dark gripper (success); position, lighting and noise vary per frame."""
    image = np.empty((128, 128, 3), np.float32)
    image[:] = (90, 110, 140)
    image[80:] = (120, 90, 60)                                    # table
    x = int(rng.integers(30, 90))
    if success:
        image[10:60, x - 14:x + 22] = (35, 35, 35)                # gripper jaws
        image[25:50, x - 6:x + 16] = (210, 30, 30)                # cube, lifted and close
    else:
        image[88:100, x:x + 10] = (200, 30, 30)                   # cube on the table
    image *= rng.uniform(0.8, 1.2)
    image += rng.normal(0.0, 6.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_synthetic_dataset(folder: Path, episodes=SYNTHETIC_EPISODES, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    labels = []
    for name, (count, cutoff) in episodes.items():
        with EpisodeBagWriter(folder / name) as writer:
            for frame in range(count):
                stamp_ns = 1_700_000_000_000_000_000 + frame * 100_000_000
                success = cutoff is not None and frame >= cutoff
                writer.write_image(stamp_ns, synthetic_frame(success, rng))
                writer.write_joint_state(stamp_ns, ['shoulder_pan'], [0.01 * frame])
        labels.append(EpisodeLabels(name=name, success_from_frame=cutoff))
    return write_labels(folder / 'labels.yaml', labels)


@pytest.fixture(scope='session')
def make_frame():
    """synthetic_frame(success, rng) for tests that build frames in memory."""
    return synthetic_frame


@pytest.fixture(scope='session')
def synthetic_episodes():
    return SYNTHETIC_EPISODES


@pytest.fixture(scope='session')
def synthetic_dataset(tmp_path_factory) -> Path:
    """Path of labels.yaml of six synthetic episodes (96 frames, 38 success)."""
    return write_synthetic_dataset(tmp_path_factory.mktemp('synthetic'))


@pytest.fixture(scope='session')
def trained_model(synthetic_dataset, tmp_path_factory) -> Path:
    """A classifier trained on the synthetic dataset through the CLI (no augmentation, so the
    frozen encoder's features are computed once and training takes seconds)."""
    from reward_classifier.cli import main
    output = tmp_path_factory.mktemp('model')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        code = main(['train', '--labels', str(synthetic_dataset), '--output', str(output),
                     '--no-progress', '--set', 'epochs=25', '--set', 'early_stopping_patience=25',
                     '--set', 'augment_brightness=0', '--set', 'augment_contrast=0',
                     '--set', 'augment_saturation=0', '--set', 'augment_shift_px=0',
                     '--set', 'learning_rate=0.001'])
    assert code == 0
    return output
