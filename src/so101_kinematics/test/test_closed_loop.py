"""No drift, no sinking: EE-delta control and repeated IK on perturbed measured joints
(the failure of an EE controller that integrates its own targets), and the IK reset on a
sagging servo plant."""
import numpy as np

from so101_kinematics.ee_control import EEController
from so101_kinematics.kinematics import IKStatus
from so101_kinematics.reset import ResetConfig, ResetOutcome, ik_reset

RESET_JOINTS = np.array([0.0, 0.01, 0.03, 1.38, 0.0, 0.8])


def test_repeated_ik_on_perturbed_measured_joints_does_not_drift(kinematics):
    """1,000 calls for the same target, each from a noisy re-reading of the last command: every
    answer is within 2 mm of the target, and the joints settle (the only motion allowed is the
    slow turn of the gripper towards pointing down, which ends)."""
    rng = np.random.default_rng(0)
    target = kinematics.position(RESET_JOINTS) + np.array([0.01, -0.01, 0.005])
    measured = RESET_JOINTS.copy()
    history = []
    for _ in range(1000):
        result = kinematics.inverse(target, measured)
        assert result.status is IKStatus.OK and result.error_m <= 0.002, result.message
        history.append(result.joints)
        measured = result.joints + rng.normal(0.0, 0.004, size=6)  # encoder noise, ~0.25 deg
    late = np.array(history[-300:])[:, :4]  # IK's joints (roll and gripper are held)
    assert np.max(late.max(axis=0) - late.min(axis=0)) < 0.05


def test_small_zero_sum_steps_on_a_sagging_arm_return_to_the_start(kinematics, plant_factory):
    """1,000 small random EE steps followed by their exact reverse on the servo plant (sag,
    lag, noise in the reading): the arm comes back to where it started, and the reference
    never runs away from the measured EE."""
    rng = np.random.default_rng(1)
    plant = plant_factory(RESET_JOINTS)
    plant.wait()
    controller = EEController(kinematics, max_lead_m=0.03)
    controller.reset(plant.read())
    start = kinematics.position(plant.read())
    steps = rng.uniform(-0.004, 0.004, size=(500, 3))
    for delta in np.concatenate([steps, -steps[::-1]]):
        measured = plant.read() + rng.normal(0.0, 0.002, size=6)
        result = controller.step(delta, measured)
        plant.command(result.joints)
        plant.wait()
        lead = np.linalg.norm(controller.reference - kinematics.position(plant.read()))
        assert lead <= 0.03 + 0.005
    assert np.linalg.norm(kinematics.position(plant.read()) - start) < 0.005


def test_zero_actions_hold_the_arm_instead_of_sinking(kinematics, plant_factory):
    plant = plant_factory(RESET_JOINTS)
    controller = EEController(kinematics)
    for _ in range(5):
        plant.wait()
    controller.reset(plant.read())
    start = kinematics.position(plant.read())
    for _ in range(100):
        plant.command(controller.step(np.zeros(3), plant.read()).joints)
        plant.wait()
    assert np.linalg.norm(kinematics.position(plant.read()) - start) < 0.003


def test_blocked_arm_does_not_wind_up(kinematics):
    """The arm does not move at all (blocked, torque off): the reference stays leashed."""
    controller = EEController(kinematics, max_lead_m=0.03)
    controller.reset(RESET_JOINTS)
    for _ in range(200):
        result = controller.step([0.0, 0.0, -0.02], RESET_JOINTS)
    assert np.linalg.norm(controller.reference - kinematics.position(RESET_JOINTS)) <= 0.03 + 1e-9
    assert np.all(np.abs(result.joints - RESET_JOINTS) <= kinematics.config.max_joint_step_rad)


def test_controller_sets_the_gripper_and_rejects_nan(kinematics):
    controller = EEController(kinematics)
    controller.reset(RESET_JOINTS)
    result = controller.step([0.0, 0.0, 0.01], RESET_JOINTS, gripper_rad=-5.0)
    assert result.joints[5] == kinematics.lower[5]
    bad = controller.step([np.nan, 0.0, 0.0], RESET_JOINTS)
    assert bad.status is IKStatus.INVALID_INPUT
    np.testing.assert_allclose(bad.joints, RESET_JOINTS)


def test_ik_reset_lands_within_1cm_across_seeds(kinematics, plant_factory):
    config = ResetConfig()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        plant = plant_factory(rng.uniform(kinematics.lower / 2, kinematics.upper / 2))
        result = ik_reset(kinematics, config, plant.read, plant.command, plant.wait, rng)
        assert result.outcome is ResetOutcome.CONVERGED, result.message
        reached = kinematics.position(plant.read())
        assert np.linalg.norm(reached - result.target) < 0.01
        assert np.all(np.abs(result.target - config.reset_ee_position) <= 0.01 + 1e-9)
        assert abs(plant.read()[5] - config.reset_joint_pose[5]) < 0.1  # gripper open


def test_ik_reset_reports_a_dead_arm(kinematics):
    config = ResetConfig(reset_max_iterations=5, reset_pose_max_steps=3)
    stuck = RESET_JOINTS.copy()
    stuck[:4] = [0.0, -1.5, 1.5, 0.0]  # never moves, far from the reset pose
    result = ik_reset(kinematics, config, lambda: stuck, lambda joints: None, lambda: None,
                      np.random.default_rng(0))
    assert result.outcome is ResetOutcome.FAILED and not result.accepted
    assert result.final_error_m > config.reset_stalled_m
    unreadable = ik_reset(kinematics, config, lambda: np.full(6, np.nan), lambda joints: None,
                          lambda: None, np.random.default_rng(0))
    assert unreadable.outcome is ResetOutcome.FAILED and 'unreadable' in unreadable.message
