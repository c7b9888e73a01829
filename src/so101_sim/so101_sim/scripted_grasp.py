"""A scripted grasp-and-lift from the privileged cube position: the hand of the simulated
operator on the leader arm (full demonstrations and short corrections) and the driver of the
reward classifier's auto-labelled episodes. Plain Python, no ROS.

It produces *leader* joint targets, one per control step, closed loop on the measured follower
joints through so101_kinematics (EEController: no drift, servo sag cancelled). Each step moves
the EE reference by at most `max_step_m` (below the policy's action_scale), so a recorded
demonstration stays inside the policy's action space.

A grasp can also fail on purpose, one failure mode at a time (GraspAttempt): the negatives a
reward classifier must learn, recorded as a person records them on the real arm (README, "On
the real arm", step 4) and generated for the simulated classifier datasets.
"""
import dataclasses
import enum
from typing import Optional, Sequence, Tuple

import numpy as np

from hilserl_common.config import in_range, param, positive
from so101_kinematics.ee_control import EEController
from so101_kinematics.kinematics import Kinematics, check_joints


@dataclasses.dataclass(frozen=True)
class GraspScriptConfig:
    max_step_m: float = param(0.015, 'largest EE move per control step (m)', in_range(0.001, 0.05))
    hover_height_m: float = param(0.06, 'EE height above the cube top before descending (m)',
                                  positive)
    grasp_height_m: float = param(0.0125, 'EE (gripperframe) height at which the jaws close '
                                  '(m); the pads are level with the gripperframe',
                                  in_range(0.0, 0.1))
    grasp_offset_m: float = param(0.024, 'the gripperframe (at the fixed jaw) descends this far '
                                  'from the cube centre along the closing axis, clear of the '
                                  'cube; closing pushes the cube onto the fixed jaw (m)',
                                  in_range(0.0, 0.05))
    cube_half_m: float = param(0.0125, 'half the cube edge (m)', positive)
    lift_height_m: float = param(0.12, 'EE height to lift the cube to (m)', positive)
    close_steps: int = param(6, 'control steps the jaws get to close before lifting', positive)
    carry_steps: int = param(12, 'most control steps spent heading for one place the lifted '
                             'hand is carried to (GraspAttempt.carry_m) before the next; one '
                             'out of reach is given up', positive)
    reach_tolerance_m: float = param(0.008, 'a waypoint is reached this close (m)', positive)
    gripper_open_rad: float = param(0.8, 'open jaws (rad)', in_range(-0.2, 1.8))
    gripper_closed_rad: float = param(-0.17, 'closed jaws (rad)', in_range(-0.2, 1.8))


# What a demonstration performs: the grasp, or one of the failure modes a classifier must not
# reward (they look most like a success from the wrist camera).
SUCCESS = 'success'
NEAR_MISS = 'near_miss'          # the jaws close a few cm beside the cube and lift nothing
DROP = 'drop'                    # grasp and lift, then the jaws open and the cube falls
CLOSED_ON_AIR = 'closed_on_air'  # the jaws close above the cube, which stays on the table
GRASP_KINDS = (SUCCESS, NEAR_MISS, DROP, CLOSED_ON_AIR)
FAILURE_KINDS = GRASP_KINDS[1:]
LIFTING_KINDS = (SUCCESS, DROP)  # the kinds that lift the cube


@dataclasses.dataclass(frozen=True)
class GraspAttempt:
    """How one scripted grasp goes; the default is the grasp itself."""
    aim_offset_m: Tuple[float, float] = (0.0, 0.0)  # added to the cube position aimed at (x, y)
    drop_after_steps: Optional[int] = None  # steps of holding the lifted cube before the jaws open
    close_height_m: Optional[float] = None  # the jaws close at this EE height (None: the grasp's)
    lift_height_m: Optional[float] = None  # EE height the cube is lifted to (None: the script's)
    # Places the lifted hand is then carried to, in turn, before the attempt is done: EE offsets
    # (x, y, z; m) from where it was lifted to. A classifier that saw the cube up only straight
    # above where it lay misses a policy that lifts it and draws it back.
    carry_m: Tuple[Tuple[float, float, float], ...] = ()


# How far across a lifted hand is carried (m): a policy holds the cube where its lift ends,
# often drawn back towards the base, not straight above where the cube lay.
CARRY_REACH_M = 0.06


def draw_carry(rng: np.random.Generator, places: int, lifted_m: float,
               heights_m: Sequence[float], reach_m: float = CARRY_REACH_M) -> tuple:
    """GraspAttempt.carry_m for `places` places: each within `reach_m` across (x, y) of the
    lift, at an EE height drawn from `heights_m` (the lift itself at `lifted_m`)."""
    return tuple((float(rng.uniform(-reach_m, reach_m)), float(rng.uniform(-reach_m, reach_m)),
                  float(rng.uniform(*heights_m)) - lifted_m) for _ in range(places))


def draw_attempt(kind: str, rng: np.random.Generator) -> GraspAttempt:
    """A grasp of `kind` (GRASP_KINDS) with its details drawn from `rng`."""
    if kind == SUCCESS:
        return GraspAttempt()
    if kind == NEAR_MISS:
        # In any direction: 3-4.5 cm off the centre is beside a 2.5 cm
        # cube for the pads, yet close enough that the jaws are in view around it.
        angle, distance = rng.uniform(0.0, 2 * np.pi), rng.uniform(0.03, 0.045)
        return GraspAttempt(aim_offset_m=(distance * np.cos(angle), distance * np.sin(angle)))
    if kind == DROP:
        return GraspAttempt(drop_after_steps=int(rng.integers(3, 12)))
    if kind == CLOSED_ON_AIR:
        return GraspAttempt(close_height_m=float(rng.uniform(0.05, 0.08)))
    raise ValueError(f'unknown grasp kind {kind!r}; expected one of {", ".join(GRASP_KINDS)}')


class Phase(enum.Enum):
    APPROACH = 'approach'   # above the cube, jaws open
    DESCEND = 'descend'
    CLOSE = 'close'
    LIFT = 'lift'
    HOLD = 'hold'


class ScriptedGrasp:
    """Call reset() with the measured joints at the start, then step() once per control step."""

    def __init__(self, kinematics: Kinematics, config: GraspScriptConfig = GraspScriptConfig()):
        self.kinematics = kinematics
        self.config = config
        self.controller = EEController(kinematics)
        self.phase = Phase.APPROACH
        self._close_count = 0
        self._gripper = config.gripper_open_rad
        self._grasp_xy: Optional[np.ndarray] = None
        self._approach_height: Optional[float] = None
        self.attempt = GraspAttempt()
        self._held_steps = 0
        self._carried = 0       # places of attempt.carry_m reached or given up
        self._carry_steps = 0   # steps spent heading for the next one

    def reset(self, measured_joints: Sequence[float], phase: Phase = Phase.APPROACH,
              correction: bool = False, attempt: GraspAttempt = GraspAttempt()) -> None:
        """Start over. A `correction` (the operator's nudge) carries on from where the arm is:
        it approaches at the arm's own height instead of first lifting it to the hover height
        (a person does not pull the arm up to push it towards the cube; lifting it taught the
        policy to rise again whenever it came close)."""
        self.controller.reset(measured_joints)
        self.phase = phase
        self._close_count = 0
        self._gripper = self.config.gripper_open_rad
        self._grasp_xy = None
        self._approach_height = (float(self.kinematics.position(measured_joints)[2])
                                 if correction else None)
        self.attempt = attempt
        self._held_steps = 0
        self._carried = 0
        self._carry_steps = 0

    @property
    def lift_height_m(self) -> float:
        """The EE height this attempt lifts to."""
        height = self.attempt.lift_height_m
        return self.config.lift_height_m if height is None else height

    @property
    def done(self) -> bool:
        """Lifted, carried where the attempt says and holding; a drop once its jaws have
        opened."""
        return (self.phase is Phase.HOLD and self._carried == len(self.attempt.carry_m)
                and (self.attempt.drop_after_steps is None or self.dropped))

    @property
    def dropped(self) -> bool:
        drop_after = self.attempt.drop_after_steps
        return drop_after is not None and self._held_steps > drop_after

    def step(self, measured_joints: Sequence[float], cube_position: Sequence[float]
             ) -> Optional[np.ndarray]:
        """Leader joint targets for this step; None when the measured joints are unusable."""
        if check_joints(measured_joints) is not None:
            return None
        measured_ee = self.kinematics.position(measured_joints)
        # Aim the gripperframe beside the cube so that the cube ends up between the pads.
        grasp_offset = self.kinematics.closing_axis(measured_joints) * self.config.grasp_offset_m
        aim = np.asarray(cube_position, dtype=float) - grasp_offset
        aim[:2] += self.attempt.aim_offset_m
        if self._grasp_xy is not None:  # closing pushes the cube: do not chase it
            aim[:2] = self._grasp_xy
        self._advance(measured_ee, self._waypoint(aim))
        if self.phase is Phase.CLOSE and self._grasp_xy is None:
            self._grasp_xy = measured_ee[:2].copy()
            aim[:2] = self._grasp_xy
        waypoint = self._waypoint(aim)
        reference = self.controller.reference
        if reference is None:
            reference = measured_ee
        delta = np.clip(waypoint - reference, -self.config.max_step_m, self.config.max_step_m)
        if self.phase is Phase.HOLD:
            self._held_steps += 1
        gripper = self.config.gripper_open_rad if self.dropped else self._gripper
        result = self.controller.step(delta, measured_joints, gripper_rad=gripper)
        return result.joints

    def _waypoint(self, aim: np.ndarray) -> np.ndarray:
        """The EE position this phase heads for, above/at/lifted from the aim point."""
        if self.phase is Phase.APPROACH:
            top = aim[2] + self.config.cube_half_m
            height = top + self.config.hover_height_m
            if self._approach_height is not None:  # no higher than the arm, clear of the cube
                height = float(np.clip(self._approach_height, top + 0.02, height))
            return np.array([aim[0], aim[1], height])
        if self.phase in (Phase.DESCEND, Phase.CLOSE):
            close_height = self.attempt.close_height_m
            return np.array([aim[0], aim[1], self.config.grasp_height_m if close_height is None
                             else close_height])
        lifted = np.array([aim[0], aim[1], self.lift_height_m])
        # carried to each place in turn, then held back where the lift ended
        if self.phase is Phase.HOLD and self._carried < len(self.attempt.carry_m):
            return lifted + self.attempt.carry_m[self._carried]
        return lifted

    def _advance(self, measured_ee: np.ndarray, waypoint: np.ndarray) -> None:
        near = np.linalg.norm(measured_ee - waypoint) <= self.config.reach_tolerance_m
        if self.phase is Phase.APPROACH and near:
            self.phase = Phase.DESCEND
        elif self.phase is Phase.DESCEND and near:
            self.phase = Phase.CLOSE
        elif self.phase is Phase.CLOSE:
            self._gripper = self.config.gripper_closed_rad
            self._close_count += 1
            if self._close_count >= self.config.close_steps:
                self.phase = Phase.LIFT
        elif self.phase is Phase.LIFT and measured_ee[2] >= self.lift_height_m - 0.01:
            self.phase = Phase.HOLD
        elif self.phase is Phase.HOLD and self._carried < len(self.attempt.carry_m):
            self._carry_steps += 1
            if near or self._carry_steps >= self.config.carry_steps:
                self._carried += 1
                self._carry_steps = 0
