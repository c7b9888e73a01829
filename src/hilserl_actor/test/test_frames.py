"""Each camera frame through the frozen backbone once: FrameEncoder."""
import numpy as np
import pytest
import torch

from hilserl_actor.frames import FrameEncoder
from hilserl_learner.networks.encoder import load_backbone, stored_bits, stored_features


@pytest.fixture(scope='module')
def encoder():
    with pytest.warns(UserWarning):
        return FrameEncoder(load_backbone(''))


def frame(seed):
    return np.random.default_rng(seed).integers(0, 256, (128, 128, 3), dtype=np.uint8)


def test_each_views_features_are_the_backbones_as_the_learner_stores_them(encoder):
    frames = {'wrist_camera': (1.0, frame(1)), 'front_camera': (0.98, frame(2))}
    features = encoder.encode(frames)
    assert list(features) == ['wrist_camera', 'front_camera']
    for view, (_, image) in frames.items():
        alone = stored_bits(encoder.backbone(torch.from_numpy(image)[None]))[0]
        assert features[view].dtype == np.uint16 and features[view].shape == (512, 4, 4)
        # batched with the other view or alone: the same values within a bfloat16 step
        assert torch.allclose(stored_features(features[view]).float(),
                              stored_features(alone).float(), rtol=8e-3, atol=1e-3)


def test_a_frame_seen_at_the_last_step_is_not_encoded_again(encoder):
    calls = []
    backbone = encoder.backbone

    def counting(images):
        calls.append(len(images))
        return backbone(images)

    counted = FrameEncoder(backbone)
    counted.backbone = counting
    first = counted.encode({'wrist_camera': (1.0, frame(1)), 'front_camera': (1.0, frame(2))})
    # the front camera is slower than the loop: its frame is the same at the next step
    second = counted.encode({'wrist_camera': (1.1, frame(3)), 'front_camera': (1.0, frame(2))})
    assert calls == [2, 1]
    assert second['front_camera'] is first['front_camera']
    assert not np.array_equal(second['wrist_camera'], first['wrist_camera'])
