"""Node parameters from a config dataclass: declared with defaults and descriptions, validated
once."""
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from hilserl_common.config import ConfigError, coerce, default_of, fields, validate


def load_config(node: Node, config_class, namespace: str = ''):
    """Declare every field of `config_class` on `node` and return the validated config.

    Raises ConfigError (which `hilserl_common.node.run` reports without a traceback) naming the
    parameter, its value and what is allowed.
    """
    source = f'node {node.get_fully_qualified_name()}'
    values = {}
    for f in fields(config_class):
        name = f'{namespace}.{f.name}' if namespace else f.name
        descriptor = ParameterDescriptor(description=f.metadata.get('description', ''),
                                         dynamic_typing=True)
        value = node.declare_parameter(name, default_of(f), descriptor).value
        if isinstance(value, (tuple, list)) or type(value).__name__ == 'array':
            value = list(value)
        values[f.name] = validate(f, coerce(f, value, source), source)
    return config_class(**values)


__all__ = ['ConfigError', 'load_config']
