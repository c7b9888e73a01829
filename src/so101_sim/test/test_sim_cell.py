"""The simulated cell without ROS: scene, seeded resets, joint targets, camera, privileged grasp
state, the scripted grasp and the IK reset on real physics."""
from pathlib import Path

import numpy as np
import pytest

from hilserl_common.preprocessing import is_dead_frame
from so101_description.model import model_xml_path
from so101_kinematics.kinematics import Kinematics
from so101_kinematics.reset import ResetConfig, ResetOutcome, ik_reset
from so101_sim.cell import SimulatedCell
from so101_sim.config import CellConfig
from so101_sim.meshes import cache_dir, cluster_vertices, decimated_mesh, read_binary_stl
from so101_sim.scripted_grasp import Phase, ScriptedGrasp


@pytest.fixture(scope='module')
def cell():
    with SimulatedCell(CellConfig()) as simulated:
        yield simulated


@pytest.fixture(scope='module')
def kinematics():
    return Kinematics()


def reset_arm(cell, kinematics, seed):
    rng = np.random.default_rng(seed)
    return ik_reset(kinematics, ResetConfig(), cell.joint_positions, cell.set_joint_targets,
                    lambda: cell.step(0.1), rng)


def test_resets_are_deterministic_per_seed_and_inside_the_region(cell):
    config = cell.config
    first = cell.reset(seed=7)
    again = cell.reset(seed=7)
    other = cell.reset(seed=8)
    np.testing.assert_allclose(first, again)
    assert np.linalg.norm(first[:2] - other[:2]) > 1e-3
    for seed in range(10):
        cube = cell.reset(seed=seed)
        assert np.all(cube[:2] >= config.cube_region_min)
        assert np.all(cube[:2] <= config.cube_region_max)
        assert abs(cube[2] - config.cube_size_m / 2) < 0.002  # resting on the table
        np.testing.assert_allclose(cell.joint_targets(), config.reset_joint_pose, atol=1e-9)
        info = cell.grasp_info()
        assert not (info.gripper_contact or info.grasped or info.success)


def test_joint_targets_reject_bad_input_and_stay_in_range(cell):
    cell.reset(seed=0)
    before = cell.joint_targets()
    assert not cell.set_joint_targets([np.nan] * 6)
    assert not cell.set_joint_targets([0.0] * 5)
    assert not cell.set_joint_targets('home')
    np.testing.assert_allclose(cell.joint_targets(), before)
    assert cell.set_joint_targets([10.0, -10.0, 0.0, 0.0, 0.0, 5.0])
    targets = cell.joint_targets()
    assert targets[0] < 2.0 and targets[1] > -1.8 and targets[5] < 1.8


def test_servos_track_targets_and_torque_off_goes_limp(cell):
    cell.reset(seed=0)
    goal = np.array([0.3, -0.3, 0.2, 1.2, 0.2, 0.5])
    cell.set_joint_targets(goal)
    cell.step(1.0)
    assert np.max(np.abs(cell.joint_positions() - goal)) < 0.06  # sag of a P servo
    cell.set_torque(False)
    held = cell.joint_positions()
    cell.step(0.5)
    assert np.linalg.norm(cell.joint_positions() - held) > 0.1  # gravity wins
    cell.set_torque(True)
    np.testing.assert_allclose(cell.joint_targets(), cell.joint_positions(), atol=1e-9)


def test_a_step_says_how_long_the_physics_advanced(cell):
    """Whole timesteps only: a clock kept from the durations asked for ran 25% ahead of the
    physics (5 ms chunks of 2 ms timesteps are 4 ms each)."""
    cell.reset(seed=0)
    before = cell.time_s
    stepped = [cell.step(0.005) for _ in range(25)] + [cell.step(0.1), cell.step()]
    assert stepped[0] == pytest.approx(2 * cell.timestep_s)
    assert stepped[-2:] == pytest.approx([0.1, cell.timestep_s])
    assert sum(stepped) == pytest.approx(cell.time_s - before)


def test_a_saved_state_steps_again_exactly_as_it_did(cell, kinematics):
    """Another command can be tried from the same moment, the arm in motion."""
    cell.reset(seed=3)
    reset_arm(cell, kinematics, 3)
    cell.set_joint_targets(cell.joint_positions() + [0.1, 0.2, -0.1, 0.0, 0.0, -0.5])
    cell.step(0.05)  # moving, the targets not reached
    saved, moving = cell.save_state(), cell.joint_velocities()
    goal = cell.joint_positions() + [0.0, 0.1, 0.1, 0.1, 0.0, -0.3]
    cell.set_joint_targets(goal)
    cell.step(0.1)
    first = cell.joint_positions()
    cell.set_joint_targets(goal - 0.2)
    cell.step(0.1)
    assert np.max(np.abs(cell.joint_positions() - first)) > 0.01  # another command, elsewhere
    cell.restore_state(saved)
    np.testing.assert_array_equal(cell.joint_velocities(), moving)
    cell.set_joint_targets(goal)
    cell.step(0.1)
    np.testing.assert_array_equal(cell.joint_positions(), first)


def test_wrist_camera_sees_the_cube_at_the_reset_pose(cell, kinematics):
    cell.reset(seed=0)
    reset_arm(cell, kinematics, 0)
    frame = cell.render()
    assert frame.shape == (cell.config.image_height, cell.config.image_width, 3)
    assert frame.dtype == np.uint8 and not is_dead_frame(frame)
    red = (frame[..., 0] > 150) & (frame[..., 1] < 80) & (frame[..., 2] < 80)
    assert red.sum() > 30  # the cube, not just the table and the jaw
    k = cell.camera_intrinsics()
    assert k[0, 2] == cell.config.image_width / 2 and k[0, 0] > 0


def test_ik_reset_lands_within_1cm_of_the_reset_pose_across_seeds(cell, kinematics):
    config = ResetConfig()
    for seed in range(6):
        cell.reset(seed=seed)
        result = reset_arm(cell, kinematics, seed)
        assert result.outcome is ResetOutcome.CONVERGED, result.message
        reached = kinematics.position(cell.joint_positions())
        assert np.linalg.norm(reached - result.target) < 0.01
        assert np.linalg.norm(reached - config.reset_ee_position) < 0.01 * np.sqrt(3) + 0.01


def test_scripted_grasp_lifts_the_cube(cell, kinematics):
    successes = 0
    for seed in range(4):
        cell.reset(seed=100 + seed)
        reset_arm(cell, kinematics, seed)
        script = ScriptedGrasp(kinematics)
        script.reset(cell.joint_positions())
        lower, upper = kinematics.lower, kinematics.upper
        for _ in range(60):
            joints = script.step(cell.joint_positions(), cell.grasp_info().cube_position)
            assert np.all(joints >= lower) and np.all(joints <= upper)
            cell.set_joint_targets(joints)
            cell.step(0.1)
            if cell.grasp_info().success:
                break
        info = cell.grasp_info()
        successes += info.success
        assert script.phase in (Phase.LIFT, Phase.HOLD)
        assert info.gripper_contact and info.grasped
    assert successes == 4


def test_decimated_meshes_are_cached_outside_the_repository(cell):
    cached = list((cache_dir() / 'meshes').glob('*.npz'))
    assert cached, 'the cell was built, so the cache must hold its meshes'
    repo = Path(__file__).resolve().parents[3]
    assert all(repo not in path.resolve().parents for path in cached)
    rendered = sum(cell.model.mesh_facenum)
    full = sum(len(read_binary_stl(p)[1])
               for p in (model_xml_path().parent / 'assets').glob('*.stl'))
    assert rendered < full / 10


def test_vertex_clustering_merges_and_drops_collapsed_triangles():
    vertices = np.array([[0, 0, 0], [0.0001, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [0, 2, 3], [1, 2, 3]])
    merged, kept = cluster_vertices(vertices, faces, 0.01)
    assert len(merged) == 3
    assert len(kept) == 1  # the sliver collapsed; two faces became one


def test_an_unwritable_cache_still_gives_the_mesh(tmp_path, monkeypatch):
    not_a_directory = tmp_path / 'file'
    not_a_directory.write_text('')
    monkeypatch.setenv('SO101_HILSERL_CACHE', str(not_a_directory))
    stl = model_xml_path().parent / 'assets' / 'waveshare_mounting_plate_so101_v2.stl'
    with pytest.warns(UserWarning, match='cannot cache'):
        vertices, faces = decimated_mesh(stl, 0.5, 0.0)
    assert len(faces) < len(read_binary_stl(stl)[1]) and faces.max() < len(vertices)
