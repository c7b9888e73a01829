"""Node parameters set on a command line as NODE.PARAM=VALUE (the main job's, the rehearsal's and
the benchmarks' --set): one parser, values read as YAML (`learner.utd_ratio=10` is a number,
`actor.cameras=[wrist_camera]` a list)."""
from typing import Dict, Iterable, Optional

import yaml

EXAMPLE = 'learner.utd_ratio=10'


class OverrideError(ValueError):
    """A malformed item; the message names it and what is expected."""


def parse_overrides(items: Iterable[str],
                    nodes: Optional[Iterable[str]] = None) -> Dict[str, dict]:
    """NODE.PARAM=VALUE items as {node: {param: value}} (a later item for the same parameter
    wins); `nodes`: the node names allowed, when they are known."""
    allowed = list(nodes) if nodes is not None else None
    overrides: Dict[str, dict] = {}
    for item in items:
        name, sep, text = item.partition('=')
        node, dot, param = name.partition('.')
        node, param = node.strip(), param.strip()
        if not sep or not dot or not node or not param:
            raise OverrideError(f'--set {item!r}: expected NODE.PARAM=VALUE, e.g. {EXAMPLE}')
        if allowed is not None and node not in allowed:
            raise OverrideError(f'--set {item!r}: no node {node!r} here; one of '
                                f'{", ".join(allowed)}')
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise OverrideError(f'--set {item!r}: the value {text!r} is not YAML '
                                f'({error.problem})') from None
        overrides.setdefault(node, {})[param] = value
    return overrides
