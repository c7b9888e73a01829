"""joint_commands messages to a target joint vector, refusing anything malformed."""
from typing import Optional, Sequence

import numpy as np


class CommandError(ValueError):
    pass


def target_from_command(msg, joint_names: Sequence[str],
                        current: Optional[np.ndarray]) -> np.ndarray:
    """Positions by name (or all six in order when names are empty); joints not named keep
    their `current` target. Raises CommandError naming the problem."""
    positions = list(msg.position)
    if not msg.name:
        if len(positions) != len(joint_names):
            raise CommandError(f'{len(positions)} positions without names; expected '
                               f'{len(joint_names)} in the order {", ".join(joint_names)}')
        names = list(joint_names)
    else:
        names = list(msg.name)
        if len(names) != len(positions):
            raise CommandError(f'{len(names)} names but {len(positions)} positions')
        unknown = [n for n in names if n not in joint_names]
        if unknown:
            raise CommandError(f'unknown joint(s) {", ".join(unknown)}')
    if not np.all(np.isfinite(positions)):
        raise CommandError(f'non-finite position(s) {positions}')
    if current is None and set(names) != set(joint_names):
        raise CommandError('the first command after torque on must name every joint')
    target = np.array(current if current is not None else np.zeros(len(joint_names)), dtype=float)
    for name, position in zip(names, positions):
        target[joint_names.index(name)] = position
    return target
