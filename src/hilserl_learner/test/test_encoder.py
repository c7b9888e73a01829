"""The shared image encoder: shapes, frozen-ness, seeded initialisation, loading weights."""
import pytest
import torch
from safetensors.torch import save_file

from hilserl_learner.networks.encoder import (
    ARCHITECTURE,
    SpatialLearnedEmbeddings,
    load_backbone,
    save_backbone_weights,
)


@pytest.fixture(scope='module')
def backbone():
    with pytest.warns(UserWarning, match='NO PRETRAINED ENCODER WEIGHTS'):
        return load_backbone('')


def test_feature_map_of_a_128_image_is_512x4x4(backbone):
    images = torch.randint(0, 256, (2, 128, 128, 3), dtype=torch.uint8)
    features = backbone(images)
    assert features.shape == (2, 512, 4, 4)
    assert backbone.feature_shape == (512, 4, 4)
    # Channel-first input gives the same features.
    assert torch.allclose(backbone(images.permute(0, 3, 1, 2)), features)


def test_backbone_is_frozen_even_when_a_parent_trains(backbone):
    parent = torch.nn.Sequential(backbone)
    parent.train()
    assert not backbone.training
    assert all(not p.requires_grad for p in backbone.parameters())
    out = backbone(torch.zeros(1, 128, 128, 3, dtype=torch.uint8))
    assert not out.requires_grad


def test_random_initialisation_is_fixed_by_the_seed(backbone):
    with pytest.warns(UserWarning):
        again = load_backbone('')
        other = load_backbone('', seed=1)
    assert again.identity == backbone.identity
    assert other.identity != backbone.identity
    assert backbone.identity.startswith(ARCHITECTURE + '@random-seed0#sha256:')


def test_weights_load_from_a_safetensors_file(tmp_path, backbone):
    with pytest.warns(UserWarning):
        source = load_backbone('', seed=7)
    path = tmp_path / 'resnet10.safetensors'
    save_backbone_weights(source, str(path))
    loaded = load_backbone(str(path))
    assert loaded.identity.split('#')[1] == source.identity.split('#')[1]
    assert 'file:resnet10.safetensors' in loaded.identity
    images = torch.randint(0, 256, (1, 128, 128, 3), dtype=torch.uint8)
    assert torch.equal(loaded(images), source(images))
    assert not torch.equal(loaded(images), backbone(images))


def test_weights_with_another_implementations_names_load(tmp_path):
    with pytest.warns(UserWarning):
        source = load_backbone('', seed=3)
    renamed = {'model.' + k.replace('stages.', 'encoder.stages.'): v.contiguous()
               for k, v in source.trunk.state_dict().items()}
    save_file(renamed, str(tmp_path / 'other.safetensors'))
    loaded = load_backbone(str(tmp_path / 'other.safetensors'))
    assert loaded.identity.split('#')[1] == source.identity.split('#')[1]


def test_a_file_of_another_network_is_refused_with_the_reason(tmp_path):
    save_file({'fc.weight': torch.zeros(2, 2)}, str(tmp_path / 'wrong.safetensors'))
    with pytest.raises(ValueError, match='missing'):
        load_backbone(str(tmp_path / 'wrong.safetensors'))
    (tmp_path / 'garbage.safetensors').write_bytes(b'not a safetensors file')
    with pytest.raises(ValueError, match='not a readable safetensors'):
        load_backbone(str(tmp_path / 'garbage.safetensors'))


def test_misshapen_tensor_is_named(tmp_path, backbone):
    state = {k: v.contiguous() for k, v in backbone.trunk.state_dict().items()}
    state['embedder.0.weight'] = torch.zeros(64, 3, 3, 3)
    save_file(state, str(tmp_path / 'bad.safetensors'))
    with pytest.raises(ValueError, match='embedder.0.weight'):
        load_backbone(str(tmp_path / 'bad.safetensors'))


def test_unreachable_hub_falls_back_loudly_to_the_seeded_initialisation(backbone):
    with pytest.warns(UserWarning, match='NO PRETRAINED'):
        fallback = load_backbone('helper2424/resnet10')
    assert fallback.identity == backbone.identity


def test_spatial_learned_embeddings_match_a_hand_computation():
    embed = SpatialLearnedEmbeddings(channels=2, height=2, width=2, num_features=3)
    with torch.no_grad():
        embed.kernel.copy_(torch.arange(24, dtype=torch.float32).reshape(2, 4, 3))
    x = torch.arange(8, dtype=torch.float32).reshape(1, 2, 2, 2)
    out = embed(x)
    expected = []
    for c in range(2):
        for f in range(3):
            expected.append(sum(x[0, c].flatten()[i] * embed.kernel[c, i, f] for i in range(4)))
    assert out.shape == (1, 6)
    assert torch.allclose(out[0], torch.stack(expected))
    out.sum().backward()
    assert embed.kernel.grad is not None
