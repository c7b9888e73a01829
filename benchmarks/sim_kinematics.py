"""Speed of the simulated cell and the kinematics on this machine: physics per control step,
wrist-camera render per frame, IK per call, FK per call; how often the IK reset converges and
the scripted grasp lifts the cube; and how accurately the EE controller realises a policy's
commands on the cell. Prints the figures.

    source scripts/env.sh && python benchmarks/sim_kinematics.py [--frames 300] [--full-meshes]
        [--accuracy-episodes 20]

--full-meshes also times the undecimated shipped meshes, for comparison.
"""
import argparse
import dataclasses
import time

import numpy as np

from hilserl_common.preprocessing import preprocess
from so101_kinematics.action_space import action_to_ee_delta
from so101_kinematics.ee_control import EEController
from so101_kinematics.kinematics import Kinematics
from so101_kinematics.reset import ResetConfig, ik_reset
from so101_sim.cell import SimulatedCell
from so101_sim.config import CellConfig
from so101_sim.scripted_grasp import ScriptedGrasp

CONTROL_PERIOD_S = 0.1


def per_call_ms(function, repeats):
    function()  # warm-up (first render creates the GL context)
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats * 1000


def bench_cell(config: CellConfig, frames: int, label: str):
    start = time.perf_counter()
    cell = SimulatedCell(config)
    build_s = time.perf_counter() - start
    kinematics = Kinematics()
    cell.reset(seed=0)
    ik_reset(kinematics, ResetConfig(), cell.joint_positions, cell.set_joint_targets,
             lambda: cell.step(CONTROL_PERIOD_S), np.random.default_rng(0))
    triangles = int(sum(cell.model.mesh_facenum[cell.model.geom_dataid[g]]
                        for g in range(cell.model.ngeom)
                        if cell.model.geom_type[g] == 7 and cell.model.geom_group[g] == 2))
    step_ms = per_call_ms(lambda: cell.step(CONTROL_PERIOD_S), 200)
    render_ms = per_call_ms(cell.render, frames)
    proc_ms = per_call_ms(lambda: preprocess(cell.render()), frames) - render_ms
    cell.close()
    print(f'[{label}] scene build {build_s:.2f} s, {triangles} rendered triangles')
    timestep_us = step_ms / (CONTROL_PERIOD_S / config.physics_timestep_s) * 1000
    print(f'[{label}] physics: {step_ms:.2f} ms per 0.1 s control step ({timestep_us:.1f} us '
          f'per {config.physics_timestep_s * 1000:g} ms timestep, '
          f'{CONTROL_PERIOD_S * 1000 / step_ms:.0f}x real time)')
    print(f'[{label}] wrist render {config.image_width}x{config.image_height}: '
          f'{render_ms:.2f} ms/frame (+{max(proc_ms, 0):.2f} ms preprocessing)')
    print(f'[{label}] step + render per control step: {step_ms + render_ms:.2f} ms')


def bench_kinematics(repeats: int):
    kinematics = Kinematics()
    rng = np.random.default_rng(0)
    joints = np.array([0.0, 0.01, 0.03, 1.38, 0.0, 0.8])
    fk_ms = per_call_ms(lambda: kinematics.forward(joints), repeats)
    start_ee = kinematics.position(joints)
    targets = start_ee + rng.uniform(-0.02, 0.02, size=(repeats, 3))
    iterations = []

    def small_step():
        result = kinematics.inverse(targets[len(iterations) % repeats], joints)
        iterations.append(result.iterations)
    ik_ms = per_call_ms(small_step, repeats)
    far = rng.uniform([0.12, -0.12, 0.02], [0.33, 0.12, 0.2], size=(repeats, 3))
    far_iterations = []

    def far_target():
        result = kinematics.inverse(far[len(far_iterations) % repeats], joints,
                                    max_iterations=100, max_joint_step_rad=3.0)
        far_iterations.append(result.iterations)
    far_ms = per_call_ms(far_target, repeats)
    controller = EEController(kinematics)
    controller.reset(joints)
    step_ms = per_call_ms(lambda: controller.step(rng.uniform(-0.02, 0.02, 3), joints), repeats)
    print(f'[kinematics] FK: {fk_ms * 1000:.0f} us/call')
    print(f'[kinematics] IK, 2 cm step from measured joints: {ik_ms:.2f} ms/call '
          f'({np.mean(iterations):.1f} iterations on average, max {np.max(iterations)})')
    print(f'[kinematics] IK, anywhere in the workspace, unlimited step: {far_ms:.2f} ms/call '
          f'({np.mean(far_iterations):.1f} iterations on average, max {np.max(far_iterations)})')
    print(f'[kinematics] EEController.step (the actor\'s call): {step_ms:.2f} ms/call')


def bench_episodes(episodes: int):
    """IK reset then scripted grasp on fresh seeded scenes (no rendering)."""
    kinematics = Kinematics()
    reset_errors, converged, lifted, steps = [], 0, 0, []
    start = time.perf_counter()
    with SimulatedCell(CellConfig(), render=False) as cell:
        for seed in range(episodes):
            cell.reset(seed=seed)
            result = ik_reset(kinematics, ResetConfig(), cell.joint_positions,
                              cell.set_joint_targets, lambda: cell.step(CONTROL_PERIOD_S),
                              np.random.default_rng(seed))
            converged += result.outcome.value == 'converged'
            reset_errors.append(result.final_error_m)
            script = ScriptedGrasp(kinematics)
            script.reset(cell.joint_positions())
            for step in range(100):  # the 10 s episode
                cell.set_joint_targets(script.step(cell.joint_positions(),
                                                   cell.grasp_info().cube_position))
                cell.step(CONTROL_PERIOD_S)
                if cell.grasp_info().success:
                    lifted += 1
                    steps.append(step + 1)
                    break
    wall = time.perf_counter() - start
    print(f'[episodes] IK reset converged {converged}/{episodes}, final error mean '
          f'{np.mean(reset_errors) * 1000:.1f} mm, max {np.max(reset_errors) * 1000:.1f} mm')
    print(f'[episodes] scripted grasp lifted the cube in {lifted}/{episodes} episodes, '
          f'{np.mean(steps) if steps else float("nan"):.1f} control steps on average; '
          f'{wall / episodes * 1000:.0f} ms wall per episode without rendering')


def bench_controller_accuracy(episodes: int, steps: int = 60, settle_steps: int = 5):
    """How far the realised EE motion of a policy step lands from its commanded delta: a random
    smooth policy (each action 0.7 of the previous one plus 0.3 of a uniform draw in [-1, 1]^3)
    through the EEController from the IK reset. Left out: the first `settle_steps` of an episode
    (the arm still settles from the reset) and steps whose reference the workspace bounds or the
    leash held back (the arm was not asked to make the commanded motion)."""
    kinematics = Kinematics()
    rng = np.random.default_rng(0)
    errors_mm = []
    with SimulatedCell(CellConfig(), render=False) as cell:
        for seed in range(episodes):
            cell.reset(seed=seed)
            ik_reset(kinematics, ResetConfig(), cell.joint_positions, cell.set_joint_targets,
                     lambda: cell.step(CONTROL_PERIOD_S), np.random.default_rng(seed))
            controller = EEController(kinematics)
            controller.reset(cell.joint_positions())
            action = np.zeros(3)
            for step in range(steps):
                action = np.clip(0.7 * action + 0.3 * rng.uniform(-1, 1, 3), -1, 1)
                delta = action_to_ee_delta(action)
                joints, reference = cell.joint_positions(), controller.reference.copy()
                cell.set_joint_targets(controller.step(delta, joints, joints[5]).joints)
                cell.step(CONTROL_PERIOD_S)
                if step < settle_steps or not np.allclose(controller.reference - reference,
                                                          delta):
                    continue
                realised = (kinematics.position(cell.joint_positions())
                            - kinematics.position(joints))
                errors_mm.append(np.linalg.norm(realised - delta) * 1000)
    p50, p95, p99 = np.percentile(errors_mm, [50, 95, 99])
    print(f'[controller] realised minus commanded EE motion of a policy step, over '
          f'{len(errors_mm)} steps of {episodes} episodes: p50 {p50:.1f} mm, p95 {p95:.1f} mm, '
          f'p99 {p99:.1f} mm')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=300, help='frames to render')
    parser.add_argument('--ik-calls', type=int, default=500, help='IK calls to time')
    parser.add_argument('--episodes', type=int, default=50, help='reset + grasp episodes')
    parser.add_argument('--full-meshes', action='store_true',
                        help='also time the undecimated meshes')
    parser.add_argument('--accuracy-episodes', type=int, default=20,
                        help='random-policy episodes for the EE controller\'s accuracy')
    args = parser.parse_args()
    bench_cell(CellConfig(), args.frames, 'decimated')
    if args.full_meshes:
        bench_cell(dataclasses.replace(CellConfig(), mesh_keep_fraction=1.0, mesh_cluster_m=0.0),
                   max(20, args.frames // 10), 'full meshes')
    bench_kinematics(args.ik_calls)
    bench_episodes(args.episodes)
    bench_controller_accuracy(args.accuracy_episodes)


if __name__ == '__main__':
    main()
