"""One config file per experiment (experiments/*.yaml, installed in this package's share): the
values of a tool's command-line options, read before the command line so that an option given
there wins.

A file names options by their long name with underscores (`episode_seconds: 3.0`); a mapping
gives a repeatable NAME=VALUE option once per entry (`set: {learner.utd_ratio: 10}`), a list the
values of a many-valued option, `true` a flag. `extends: NAME` starts from another experiment's
values (an ablation is its base experiment and what differs).
"""
import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import yaml


class ExperimentError(ValueError):
    """An experiment that cannot be read; the message names it."""


def experiments_dir() -> Path:
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory('hilserl_experiments')) / 'experiments'


def experiment_file(name_or_file: str, relative_to: Optional[Path] = None) -> Path:
    """A path to a .yaml file as it is (relative to `relative_to` when given), else the
    installed experiment of that name."""
    if name_or_file.endswith(('.yaml', '.yml')):
        path = (relative_to or Path.cwd()) / name_or_file
        if not path.is_file():
            raise ExperimentError(f'no experiment file {path}')
        return path
    path = experiments_dir() / f'{name_or_file}.yaml'
    if not path.is_file():
        names = sorted(p.stem for p in experiments_dir().glob('*.yaml'))
        raise ExperimentError(f'no experiment named {name_or_file!r}: one of {", ".join(names)}, '
                              'or a .yaml file')
    return path


def load_experiment(name_or_file: str, relative_to: Optional[Path] = None) -> dict:
    """The option values of an experiment over those of the experiment it extends."""
    path = experiment_file(name_or_file, relative_to)
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ExperimentError(f'{path}: expected a mapping of option names to values')
    base = values.pop('extends', None)
    if base is None:
        return values
    merged = load_experiment(str(base), path.parent)
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = {**merged[key], **value}
        merged[key] = value
    return merged


def as_arguments(values: dict) -> List[str]:
    """The command-line options that give these values."""
    arguments = []
    for key, value in values.items():
        option = '--' + key.replace('_', '-')
        if isinstance(value, bool):
            arguments += [option] if value else []
        elif isinstance(value, dict):
            # JSON is YAML: NAME=VALUE readers (hilserl_common.overrides) read the value back
            # with its type ('off' stays a string)
            arguments += [a for name, item in value.items()
                          for a in (option, f'{name}={json.dumps(item)}')]
        elif isinstance(value, list):
            arguments += [option, *map(str, value)]
        else:
            arguments += [option, str(value)]
    return arguments


def parse_with_experiment(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None,
                          default: Optional[str] = None) -> argparse.Namespace:
    """`argv` parsed on top of the experiment --experiment names (`default` when not given;
    None: no experiment file). Every option must then have a value."""
    parser.add_argument('--experiment', default=default, metavar='NAME_OR_FILE',
                        help='the experiment whose values the options start from: a name out of '
                        'hilserl_experiments/experiments/ or a .yaml file' +
                        (f' (default: {default})' if default else ''))
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = parser.parse_known_args(argv)[0].experiment
    if chosen is None:
        return parser.parse_args(argv)
    try:
        values = load_experiment(chosen)
    except (ExperimentError, yaml.YAMLError) as error:
        parser.error(str(error))
    options, unknown = parser.parse_known_args(as_arguments(values) + argv)
    from_file = sorted(set(unknown) & {'--' + key.replace('_', '-') for key in values})
    if from_file:
        parser.error(f'experiment {chosen}: {", ".join(from_file)} not options of {parser.prog}')
    if unknown:
        parser.error(f'unrecognized arguments: {" ".join(unknown)}')
    missing = sorted(name for name, value in vars(options).items() if value is None)
    if missing:
        parser.error(f'experiment {chosen} gives no value for {", ".join(missing)}')
    return options
