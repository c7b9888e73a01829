"""One config file per experiment: the default main job is exactly the options it always had, an
ablation is its base experiment and what differs, the command line overrides a file, and a file
that does not fit its tool is refused with its name."""
import importlib.util
from pathlib import Path

import pytest

from hilserl_common.overrides import parse_overrides
from hilserl_experiments.main_job_options import parse_options

BENCHMARK = Path(__file__).resolve().parents[3] / 'benchmarks' / 'learning_in_process.py'

# The main job's options before they moved into experiments/sim_grasp.yaml.
MAIN_JOB_DEFAULTS = {
    'output_dir': 'runs/sim', 'demos': 20, 'classifier_episodes': 40, 'classifier_steps': 60,
    'classifier_carry_places': 3,  # 0 until the runs of 6 Dec chose 3
    'classifier_set': [], 'classifier_views': ['wrist_camera', 'front_camera'],
    'encoder': 'pretrained', 'encoder_episodes': 120, 'encoder_epochs': 3.0, 'episodes': 300,
    'episode_seconds': 0.0, 'target_success': 0.8, 'target_interventions': 0.1,
    'mine_after': 20, 'eval_every': 25, 'eval_round_episodes': 20, 'final_eval_episodes': 50,
    'real_time_factor': 0.3, 'robots': 1, 'set': [], 'seed': 0, 'console_port': 8080,
    'ablation': 'full',
    'skip': [], 'experiment': 'sim_grasp',
}


def test_the_default_experiment_is_the_main_job_it_always_was():
    options = vars(parse_options([]))
    assert options == MAIN_JOB_DEFAULTS
    assert all(type(options[k]) is type(v) for k, v in MAIN_JOB_DEFAULTS.items())


@pytest.mark.parametrize('ablation', ['no_interventions', 'no_demos'])
def test_an_ablation_is_its_base_experiment_and_what_differs(ablation):
    options = vars(parse_options(['--experiment', f'sim_grasp_{ablation}']))
    differs = {k: v for k, v in options.items() if MAIN_JOB_DEFAULTS[k] != v}
    assert differs == {'experiment': f'sim_grasp_{ablation}', 'ablation': ablation,
                       'output_dir': f'runs/sim_{ablation}'}


def test_the_command_line_overrides_the_experiment(tmp_path):
    experiment = tmp_path / 'mine.yaml'
    experiment.write_text('extends: sim_grasp_no_demos\nepisodes: 7\n'
                          "set: {operator.mode: 'off', learner.utd_ratio: 10}\n")
    options = parse_options(['--experiment', str(experiment), '--episodes', '5',
                             '--set', 'learner.utd_ratio=4', '--ablation', 'full'])
    assert (options.episodes, options.ablation, options.output_dir) == (5, 'full',
                                                                        'runs/sim_no_demos')
    # the file's settings first, the command line's after them: a later one wins
    assert parse_overrides(options.set) == {'operator': {'mode': 'off'},
                                            'learner': {'utd_ratio': 4}}


def test_an_experiment_of_another_tool_is_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        parse_options(['--experiment', 'rung_a_privileged'])
    error = capsys.readouterr().err
    assert 'experiment rung_a_privileged: --privileged-state not options of' in error


def test_an_experiment_must_give_every_option(tmp_path, capsys):
    experiment = tmp_path / 'short.yaml'
    experiment.write_text('demos: 3\n')
    with pytest.raises(SystemExit):
        parse_options(['--experiment', str(experiment)])
    assert 'gives no value for ablation, classifier_carry_places, classifier_episodes' in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_options(['--experiment', 'sim_grasp_typo'])
    assert "no experiment named 'sim_grasp_typo': one of rung_a_privileged" in \
        capsys.readouterr().err


def test_the_in_process_ladder_reads_its_rungs():
    spec = importlib.util.spec_from_file_location('learning_in_process', BENCHMARK)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    rung_a = benchmark.parse_options(['--experiment', 'rung_a_privileged'])
    assert (rung_a.privileged_state, rung_a.episodes) == (True, 200)
    rung_b = benchmark.parse_options(['--experiment', 'rung_b_images', '--utd', '2'])
    assert (rung_b.privileged_state, rung_b.episodes, rung_b.utd) == (False, 200, 2.0)
    plain = benchmark.parse_options([])
    assert (plain.experiment, plain.episodes) == (None, 60)
