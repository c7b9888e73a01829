"""The simulated grasp cell in plain Python: physics, joint targets, wrist camera, seeded scene
resets and the privileged state only a simulation knows (cube pose, contact, grasp, success).

Used by the `sim` node and, without ROS, by the reward classifier's auto-labelled dataset
generator and by benchmarks. Joint vectors are in so101_description.model.JOINT_NAMES order,
radians; positions in the arm's base frame (= world; table top at z = 0).
"""
import dataclasses
from typing import Optional, Sequence

import mujoco
import numpy as np

from so101_description.cameras import WRIST_CAMERA
from so101_description.model import JOINT_NAMES
from so101_sim.config import CellConfig
from so101_sim.scene import (
    CUBE_BODY,
    CUBE_GEOM,
    FIXED_JAW_BODY,
    MOVING_JAW_BODY,
    TABLE_GEOM,
    build_model,
)

# Everything mj_step reads: stepping from a restored state repeats the original step bit for bit.
_FULL_STATE = mujoco.mjtState.mjSTATE_INTEGRATION


@dataclasses.dataclass(frozen=True)
class GraspInfo:
    """Privileged state for the operator, metrics and labels; never a policy input."""
    cube_position: np.ndarray   # (3,) centre, base frame (m)
    cube_quat_wxyz: np.ndarray  # (4,)
    gripper_contact: bool       # both jaws touch the cube
    grasped: bool               # contact, and the cube no longer touches the table
    cube_height: float          # cube centre above the table (m)
    success: bool               # grasped and lifted by success_lift_m


class SimulatedCell:
    """One arm, one cube, one wrist camera. Not thread-safe; call close() when done."""

    def __init__(self, config: CellConfig = CellConfig(), render: bool = True):
        self.config = config
        self.model = build_model(config)
        self.data = mujoco.MjData(self.model)
        self._joint_qpos = np.array([self.model.joint(n).qposadr[0] for n in JOINT_NAMES])
        self._joint_dof = np.array([self.model.joint(n).dofadr[0] for n in JOINT_NAMES])
        self._actuators = np.array([self.model.actuator(n).id for n in JOINT_NAMES])
        self._ctrl_low = self.model.actuator_ctrlrange[self._actuators, 0]
        self._ctrl_high = self.model.actuator_ctrlrange[self._actuators, 1]
        self._gains = self.model.actuator_gainprm[self._actuators].copy()
        self._biases = self.model.actuator_biasprm[self._actuators].copy()
        cube_joint = self.model.body(CUBE_BODY).jntadr[0]
        self._cube_qpos = self.model.jnt_qposadr[cube_joint]
        self._cube_dof = self.model.jnt_dofadr[cube_joint]
        self._cube_geom = self.model.geom(CUBE_GEOM).id
        self._table_geom = self.model.geom(TABLE_GEOM).id
        self._fixed_jaw = self.model.body(FIXED_JAW_BODY).id
        self._moving_jaw = self.model.body(MOVING_JAW_BODY).id
        self._half = config.cube_size_m / 2
        self._rng = np.random.default_rng(config.seed)
        self._renders = render
        self._renderer: Optional[mujoco.Renderer] = None  # made by the first render() call
        self.reset()

    # --- time and physics --------------------------------------------------------------

    @property
    def time_s(self) -> float:
        return float(self.data.time)

    @property
    def timestep_s(self) -> float:
        return float(self.model.opt.timestep)

    def step(self, duration_s: Optional[float] = None) -> float:
        """Advance the physics by `duration_s` (one timestep when None), rounded to whole
        timesteps; returns the seconds it advanced. A caller that keeps a clock adds those, not
        the duration it asked for: 5 ms asked of 2 ms timesteps is 4 ms."""
        steps = 1 if duration_s is None else max(1, int(round(duration_s / self.timestep_s)))
        mujoco.mj_step(self.model, self.data, nstep=steps)
        return steps * self.timestep_s

    def save_state(self) -> np.ndarray:
        """The whole physical state (positions, velocities, joint targets, time, the solver's
        warm start): restore_state() returns to it exactly, to try another command from the
        same moment."""
        state = np.empty(mujoco.mj_stateSize(self.model, _FULL_STATE))
        mujoco.mj_getState(self.model, self.data, state, _FULL_STATE)
        return state

    def restore_state(self, state: np.ndarray) -> None:
        mujoco.mj_setState(self.model, self.data, np.asarray(state, dtype=float), _FULL_STATE)
        mujoco.mj_forward(self.model, self.data)  # contacts and forces of the restored state

    # --- arm ---------------------------------------------------------------------------

    def set_joint_targets(self, joints: Sequence[float]) -> bool:
        """Position targets of the six servos, clipped to their ranges. Returns False (and keeps
        the previous targets) for anything but 6 finite numbers."""
        try:
            targets = np.asarray(joints, dtype=float)
        except (TypeError, ValueError):
            return False
        if targets.shape != (len(JOINT_NAMES),) or not np.all(np.isfinite(targets)):
            return False
        self.data.ctrl[self._actuators] = np.clip(targets, self._ctrl_low, self._ctrl_high)
        return True

    def joint_targets(self) -> np.ndarray:
        return self.data.ctrl[self._actuators].copy()

    def joint_positions(self) -> np.ndarray:
        return self.data.qpos[self._joint_qpos].copy()

    def joint_velocities(self) -> np.ndarray:
        return self.data.qvel[self._joint_dof].copy()

    def joint_efforts(self) -> np.ndarray:
        return self.data.actuator_force[self._actuators].copy()

    def set_torque(self, enabled: bool) -> None:
        """Torque off makes the servos limp (no force), like the real arm's torque_enable."""
        if enabled:
            self.model.actuator_gainprm[self._actuators] = self._gains
            self.model.actuator_biasprm[self._actuators] = self._biases
            self.hold()  # torque back on where the arm is, not where it was told to go
        else:
            self.model.actuator_gainprm[self._actuators] = 0.0
            self.model.actuator_biasprm[self._actuators] = 0.0

    def hold(self) -> None:
        """Stop: targets := the current positions."""
        self.data.ctrl[self._actuators] = np.clip(self.joint_positions(), self._ctrl_low,
                                                  self._ctrl_high)

    # --- scene -------------------------------------------------------------------------

    def reset(self, seed: Optional[int] = None) -> np.ndarray:
        """New episode scene: the arm at the reset joint pose (at rest, targets there), the cube
        flat at a random place and yaw in its region. Deterministic for a seed; without one the
        cell's own sequence continues. Returns the cube position."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        mujoco.mj_resetData(self.model, self.data)
        pose = np.clip(np.asarray(self.config.reset_joint_pose, dtype=float),
                       self._ctrl_low, self._ctrl_high)
        self.data.qpos[self._joint_qpos] = pose
        self.data.ctrl[self._actuators] = pose
        xy = self._rng.uniform(self.config.cube_region_min, self.config.cube_region_max)
        # Yaw about the direction to the base: the policy cannot turn the wrist, so a cube at
        # 45 degrees to the jaws would be a different task than the real one's.
        yaw = np.arctan2(xy[1], xy[0]) + self._rng.uniform(-self.config.cube_yaw_range_rad,
                                                           self.config.cube_yaw_range_rad)
        self.data.qpos[self._cube_qpos:self._cube_qpos + 3] = [xy[0], xy[1], self._half]
        self.data.qpos[self._cube_qpos + 3:self._cube_qpos + 7] = [np.cos(yaw / 2), 0, 0,
                                                                   np.sin(yaw / 2)]
        mujoco.mj_forward(self.model, self.data)
        self.step(0.2)  # let the arm take its sag and the cube settle before the episode
        self.data.time = 0.0
        return self.cube_position()

    def cube_position(self) -> np.ndarray:
        return self.data.qpos[self._cube_qpos:self._cube_qpos + 3].copy()

    def grasp_info(self) -> GraspInfo:
        touching = self._cube_contacts()
        contact = self._fixed_jaw in touching and self._moving_jaw in touching
        height = float(self.data.qpos[self._cube_qpos + 2])
        grasped = contact and 'table' not in touching and height > self._half + 0.003
        success = grasped and height - self._half >= self.config.success_lift_m
        return GraspInfo(self.cube_position(),
                         self.data.qpos[self._cube_qpos + 3:self._cube_qpos + 7].copy(),
                         contact, grasped, height, success)

    def _cube_contacts(self) -> set:
        """Bodies (and 'table') in contact with the cube."""
        touching = set()
        for contact in self.data.contact[:self.data.ncon]:
            if self._cube_geom not in (contact.geom1, contact.geom2):
                continue
            other = contact.geom2 if contact.geom1 == self._cube_geom else contact.geom1
            if other == self._table_geom:
                touching.add('table')
            else:
                touching.add(int(self.model.geom_bodyid[other]))
        return touching

    # --- camera ------------------------------------------------------------------------

    def render(self, camera: str = WRIST_CAMERA) -> np.ndarray:
        """A frame of `camera` (wrist_camera or front_camera), H x W x 3 uint8 RGB. The GL
        context belongs to the thread of the first call: render (and close) from that thread
        only."""
        if not self._renders:
            raise RuntimeError('this SimulatedCell was made with render=False')
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.config.image_height,
                                             self.config.image_width)
            # No shadows or reflections: ~10x cheaper on a CPU (measured: 380 vs 42 ms a frame).
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self._renderer.update_scene(self.data, camera=camera)
        return self._renderer.render()

    def camera_intrinsics(self, camera: str = WRIST_CAMERA) -> np.ndarray:
        """3x3 pinhole matrix of a camera (square pixels, centred principal point)."""
        fovy = np.radians(self.model.camera(camera).fovy[0])
        focal = self.config.image_height / 2 / np.tan(fovy / 2)
        return np.array([[focal, 0, self.config.image_width / 2],
                         [0, focal, self.config.image_height / 2],
                         [0, 0, 1.0]])

    def close(self) -> None:
        """Release the renderer's GL context now (EGL complains at interpreter exit otherwise)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
