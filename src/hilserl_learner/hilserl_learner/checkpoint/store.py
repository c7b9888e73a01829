"""Checkpoints of the learner: every network (targets included), the temperature, the
optimisers, the step counters and the sampling random state, in one directory. Checkpoints
written before the target encoder existed resume with it initialised from the online encoder.

Tensors go to safetensors; optimiser states to a torch file read back with
`weights_only=True` (tensors and plain containers only, no arbitrary objects). A checkpoint is
written next to the old one and swapped in by renames, so a kill mid-write keeps the old one.
The transitions themselves live in the journal (replay/journal.py), not here.
"""
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from safetensors.torch import load_file, save_file

LOGGER = logging.getLogger(__name__)

NETWORKS = 'networks.safetensors'
OPTIMIZERS = 'optimizers.pt'
STATE = 'state.json'
OPTIMIZER_NAMES = ('critic_optimizer', 'actor_optimizer', 'gripper_optimizer',
                   'temperature_optimizer')
ENCODER, TARGET_ENCODER = 'encoder.', 'encoder_target.'  # prefixes in the agent's state dict


def save_checkpoint(directory: Path, agent, counters: Dict[str, int], rng_state: Dict) -> None:
    directory = Path(directory)
    staging = directory.with_name(directory.name + '.new')
    previous = directory.with_name(directory.name + '.old')
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in agent.state_dict().items()},
              str(staging / NETWORKS))
    torch.save({name: getattr(agent, name).state_dict() for name in OPTIMIZER_NAMES},
               staging / OPTIMIZERS)
    state = {'counters': counters, 'rng_state': rng_state,
             'backbone_identity': agent.encoder.backbone.identity}
    (staging / STATE).write_text(json.dumps(state, indent=1))
    shutil.rmtree(previous, ignore_errors=True)
    if directory.exists():
        directory.rename(previous)
    staging.rename(directory)
    shutil.rmtree(previous, ignore_errors=True)


def load_checkpoint(directory: Path, agent) -> Tuple[Optional[Dict[str, int]], Optional[Dict]]:
    """Restore `agent` in place; (counters, rng state), or (None, None) without a checkpoint.
    Falls back to the previous checkpoint when a kill interrupted the swap."""
    directory = Path(directory)
    if not (directory / STATE).exists():
        directory = directory.with_name(directory.name + '.old')
        if not (directory / STATE).exists():
            return None, None
    state = json.loads((directory / STATE).read_text())
    identity = agent.encoder.backbone.identity
    if state.get('backbone_identity') != identity:
        raise ValueError(f'checkpoint {directory} was trained with image backbone '
                         f'{state.get("backbone_identity")}, this learner has {identity}')
    tensors = load_file(str(directory / NETWORKS), device=str(agent.device))
    agent.load_state_dict(with_target_encoder(tensors, agent, directory))
    optimizers = torch.load(directory / OPTIMIZERS, map_location=agent.device, weights_only=True)
    for name in OPTIMIZER_NAMES:
        getattr(agent, name).load_state_dict(optimizers[name])
    return state['counters'], state['rng_state']


def with_target_encoder(tensors: Dict[str, torch.Tensor], agent, directory: Path
                        ) -> Dict[str, torch.Tensor]:
    """`tensors`, with the target encoder taken from the online encoder's when the checkpoint
    has none (written before it existed): where a fresh target starts too."""
    if any(name.startswith(TARGET_ENCODER) for name in tensors):
        return tensors
    LOGGER.info('checkpoint %s has no target encoder (written before it existed): initialised '
                'from the online encoder', directory)
    return {**tensors, **{TARGET_ENCODER + name: tensors[ENCODER + name]
                          for name in agent.encoder_target.state_dict()}}


def set_aside_previous_run(run_dir: Path, names) -> None:
    """A fresh start must not mix with an earlier run's transitions (a later resume would
    replay both): move the earlier run's files `names` into `run_dir/replaced_<time>/`."""
    run_dir = Path(run_dir)
    previous = [run_dir / name for name in names if (run_dir / name).exists()]
    if not previous:
        return
    archive = run_dir / time.strftime('replaced_%Y%m%d_%H%M%S', time.gmtime())
    archive.mkdir(exist_ok=True)
    for path in previous:
        path.rename(archive / path.name)
    LOGGER.warning('%s held a previous run and resume is off: moved it to %s', run_dir, archive)
