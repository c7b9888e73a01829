"""The parameter files document the defaults: every value a node's files set for one of its
config classes equals that class's default, so a parameter has one source of truth (the
dataclass) and the files only say it where a user looks for it."""
import math
import os

import pytest

from hilserl_actor.config import ActorConfig
from hilserl_actor.reward_gate import RewardGateConfig
from hilserl_bringup.graph import GRAPHS, resolve_arguments
from hilserl_bringup.runner import default_config_dir
from hilserl_common.config import default_of, fields, load_yaml_section
from hilserl_console.config import ConsoleConfig
from hilserl_learner.config import LearnerConfig
from reward_classifier.config import ServingConfig, TrainingConfig
from so101_kinematics.kinematics import KinematicsConfig
from so101_kinematics.reset import ResetConfig
from so101_sim.config import CellConfig, SimNodeConfig
from so101_sim.operator import OperatorConfig

CLASSES = {
    'sim': (CellConfig, SimNodeConfig),
    'operator': (OperatorConfig,),
    'kinematics': (KinematicsConfig,),
    'actor': (ActorConfig, KinematicsConfig, ResetConfig, RewardGateConfig),
    'learner': (LearnerConfig,),
    'reward_classifier': (ServingConfig,),
    'console': (ConsoleConfig,),
}


def same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def node_values():
    specs = {s.name: s for s in GRAPHS['train'](resolve_arguments('train', {}))}
    for node, classes in CLASSES.items():
        values = {}
        for file in specs[node].params_files:
            values.update(load_yaml_section(os.path.join(default_config_dir(), file), node))
        yield node, classes, values


@pytest.mark.parametrize('node, classes, values', list(node_values()),
                         ids=[node for node, _, _ in node_values()])
def test_a_nodes_files_set_only_the_defaults_of_its_config_classes(node, classes, values):
    differing = {}
    for config_class in classes:
        for f in fields(config_class):
            if f.name in values and not same(values[f.name], default_of(f)):
                differing[f'{config_class.__name__}.{f.name}'] = (values[f.name], default_of(f))
    assert not differing, f'{node}: file value vs dataclass default: {differing}'


def test_the_classifier_training_section_documents_its_defaults():
    values = load_yaml_section(os.path.join(default_config_dir(), 'reward_classifier.yaml'),
                               'reward_classifier_training')
    differing = {f.name: (values[f.name], default_of(f)) for f in fields(TrainingConfig)
                 if f.name in values and not same(values[f.name], default_of(f))}
    assert not differing
