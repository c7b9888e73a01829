"""Configuration dataclasses, validated with messages that name the parameter, its value and what
is allowed.

Each concern declares one dataclass whose fields are made with `param(...)`; `from_dict` builds and
validates it from a mapping (a YAML section, a CLI), and `hilserl_common.params` does the same from
ROS parameters. No ROS import here, so algorithms can use it.
"""
import dataclasses
import math
from typing import Any, Callable, Mapping, Optional, Sequence

import yaml

Check = Callable[[Any], Optional[str]]  # returns what is allowed when the value is not


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message is meant for the user."""


def param(default, description: str, check: Optional[Check] = None):
    """A config field with its default, a description for users, and an optional check."""
    metadata = {'description': description, 'check': check}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# --- checks --------------------------------------------------------------------------------

def positive(value):
    return None if _all(value, lambda v: v > 0) else 'a value > 0'


def non_negative(value):
    return None if _all(value, lambda v: v >= 0) else 'a value >= 0'


def in_range(low, high) -> Check:
    def check(value):
        return None if _all(value, lambda v: low <= v <= high) else f'a value in [{low}, {high}]'
    return check


def one_of(*options) -> Check:
    def check(value):
        return None if value in options else 'one of ' + ', '.join(repr(o) for o in options)
    return check


def length(n: int, inner: Optional[Check] = None) -> Check:
    def check(value):
        if len(value) != n:
            return f'a list of {n} numbers'
        return inner(value) if inner else None
    return check


def _all(value, predicate) -> bool:
    values = value if isinstance(value, (list, tuple)) else [value]
    return all(math.isfinite(v) and predicate(v) for v in values)


# --- building ------------------------------------------------------------------------------

def fields(config_class) -> Sequence[dataclasses.Field]:
    return dataclasses.fields(config_class)


def default_of(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()


def coerce(f: dataclasses.Field, value, source: str):
    """The value converted to the field's default's type, or a ConfigError naming both."""
    default = default_of(f)
    name = f.name
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list) and default and all(isinstance(d, str) for d in default):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        value = list(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        value = [float(v) for v in value] if ok and all(isinstance(d, float) for d in default) \
            else list(value) if ok else value
    else:
        ok = True
    if not ok:
        raise ConfigError(f'{source}: parameter {name!r} = {value!r} has the wrong type; '
                          f'expected {_type_name(default)} (default {default!r})')
    return value


def validate(f: dataclasses.Field, value, source: str):
    check = f.metadata.get('check')
    if value is not None and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f'{source}: parameter {f.name!r} = {value!r} is not a finite number')
    allowed = check(value) if check else None
    if allowed:
        raise ConfigError(f'{source}: parameter {f.name!r} = {value!r} is not allowed; '
                          f'expected {allowed}')
    return value


def from_dict(config_class, values: Mapping[str, Any], source: str = 'configuration'):
    """Build and validate `config_class` from a mapping; unknown keys are an error."""
    known = {f.name: f for f in fields(config_class)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f'{source}: unknown parameter(s) {", ".join(unknown)}; '
                          f'known: {", ".join(sorted(known))}')
    kwargs = {}
    for name, f in known.items():
        value = values[name] if name in values else default_of(f)
        kwargs[name] = validate(f, coerce(f, value, source), source)
    return config_class(**kwargs)


def load_yaml_section(path: str, node_name: str) -> dict:
    """The `ros__parameters` of `node_name` from a ROS parameter file: the `/**` section, then
    the node's own (`/**/name`, the form that matches the node in any namespace, or `name`)."""
    try:
        with open(path) as stream:
            document = yaml.safe_load(stream) or {}
    except FileNotFoundError:
        raise ConfigError(f'configuration file {path} does not exist') from None
    except yaml.YAMLError as error:
        raise ConfigError(f'configuration file {path} is not valid YAML: {error}') from None
    if not isinstance(document, dict):
        raise ConfigError(f'configuration file {path}: expected a mapping of node names')
    merged = {}
    name = node_name.lstrip('/')
    for key in ('/**', name, '/' + name, '/**/' + name):
        section = document.get(key)
        if section is None:
            continue
        if not isinstance(section, dict) or not isinstance(section.get('ros__parameters'), dict):
            raise ConfigError(f'configuration file {path}: section {key!r} needs a '
                              f'"ros__parameters:" mapping')
        merged.update(section['ros__parameters'])
    return merged


def _type_name(default) -> str:
    if isinstance(default, list) and default and all(isinstance(d, str) for d in default):
        return 'a list of strings'
    if isinstance(default, list):
        return 'a list of numbers'
    return {bool: 'true/false', int: 'an integer', float: 'a number', str: 'a string'}.get(
        type(default), type(default).__name__)
