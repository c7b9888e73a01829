"""A wrong configuration stops with a message naming the parameter, its value and what is
allowed."""
import dataclasses

import pytest

from hilserl_common.config import (
    ConfigError,
    from_dict,
    in_range,
    length,
    load_yaml_section,
    one_of,
    param,
    positive,
)


@dataclasses.dataclass(frozen=True)
class ExampleConfig:
    rate_hz: float = param(30.0, 'publish rate', positive)
    retries: int = param(3, 'retries per cycle', in_range(0, 10))
    mode: str = param('train', 'what to do', one_of('train', 'eval'))
    bounds_min: list = param([0.1, -0.15, -0.02], 'EE lower bound (m)', length(3))
    verbose: bool = param(False, 'print more')


def test_defaults_and_int_to_float():
    config = from_dict(ExampleConfig, {'rate_hz': 10})
    assert config.rate_hz == 10.0 and isinstance(config.rate_hz, float)
    assert config.bounds_min == [0.1, -0.15, -0.02]


@pytest.mark.parametrize('values, words', [
    ({'rate_hz': -1.0}, ["'rate_hz'", '-1.0', '> 0']),
    ({'rate_hz': 'fast'}, ["'rate_hz'", "'fast'", 'a number']),
    ({'rate_hz': float('nan')}, ["'rate_hz'", 'finite']),
    ({'retries': 2.5}, ["'retries'", 'an integer']),
    ({'retries': 11}, ["'retries'", '[0, 10]']),
    ({'mode': 'play'}, ["'mode'", "'play'", "'train', 'eval'"]),
    ({'bounds_min': [0.1, 0.2]}, ["'bounds_min'", 'a list of 3']),
    ({'verbose': 'yes'}, ["'verbose'", 'true/false']),
    ({'rate': 3}, ['unknown parameter', 'rate', 'rate_hz']),
])
def test_bad_values_name_the_parameter_value_and_what_is_allowed(values, words):
    with pytest.raises(ConfigError) as error:
        from_dict(ExampleConfig, values, source='sim.yaml')
    message = str(error.value)
    assert 'sim.yaml' in message
    for word in words:
        assert word in message


def test_yaml_section_merges_wildcard_and_node(tmp_path):
    path = tmp_path / 'task.yaml'
    path.write_text('/**:\n  ros__parameters:\n    rate_hz: 10.0\n    retries: 2\n'
                    '/**/sim:\n  ros__parameters:\n    rate_hz: 30.0\n')
    assert load_yaml_section(str(path), 'sim') == {'rate_hz': 30.0, 'retries': 2}
    assert load_yaml_section(str(path), 'actor') == {'rate_hz': 10.0, 'retries': 2}


@pytest.mark.parametrize('text, words', [
    (None, ['does not exist']),
    ('sim: [unclosed', ['not valid YAML']),
    ('sim:\n  rate_hz: 3\n', ['ros__parameters']),
])
def test_yaml_file_problems_are_named(tmp_path, text, words):
    path = tmp_path / 'sim.yaml'
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_yaml_section(str(path), 'sim')
    assert str(path) in str(error.value)
    for word in words:
        assert word in str(error.value)

