"""The in-process harness runs the actor's own session on the real simulated cell, with a learner
that makes exactly `utd_ratio` critic updates per env step (a small, fast configuration)."""
import pytest

from hilserl_common.run_layout import RunLayout
from hilserl_experiments.in_process import InProcessRun, InProcessSettings
from hilserl_testing.nodes import ListLog
from so101_kinematics.proprioception import PRIVILEGED_DIM, STATE_DIM

SMALL = {'learner': {'batch_size': 16, 'training_starts': 5, 'latent_dim': 32,
                     'hidden_dims': [32], 'gripper_hidden_dims': [32],
                     'encoder': 'small_conv', 'image_encoder_hidden_dim': 8},
         'actor': {'control_time_s': 1.5}, 'operator': {'explore_steps': 2}}


@pytest.mark.parametrize('privileged', [False, True])
def test_the_harness_trains_at_the_asked_rate_and_records_like_a_graph_run(tmp_path, privileged):
    settings = InProcessSettings(str(tmp_path), utd=3, weights_every_steps=5,
                                 privileged_state=privileged, eval_every=1, eval_episodes=1)
    log = ListLog()
    run = InProcessRun(settings, SMALL, log)
    try:
        run.train(2)
    finally:
        run.close()
    layout = RunLayout(tmp_path)
    train, evaluated = layout.episodes('train'), layout.episodes('eval')
    assert len(train) == 2 and len(evaluated) == 2
    assert [r['after_train_episodes'] for r in layout.eval_rounds()] == [1, 2]
    steps = sum(r['length'] for r in train)
    assert run.learner.env_steps == steps  # evaluation episodes send nothing
    assert run.learner.optimization_step == 3 * steps
    assert run.policy.version > 1  # the learner's weights reached the actor's policy
    assert any(r['intervention_steps'] for r in train)  # the operator corrected
    assert run.learner.online.data['state'].shape[1] == STATE_DIM + privileged * PRIVILEGED_DIM
    assert any(line.startswith('evaluation:') for line in log.lines)
    assert all(r['sim_stage'] in ('far', 'near', 'contact', 'grasped', 'success')
               for r in train + evaluated)


def test_a_saved_policy_is_acted_without_learning_on_sensors_as_old_as_asked(tmp_path):
    trained = InProcessRun(InProcessSettings(str(tmp_path / 'trained'), utd=1, eval_every=0),
                           SMALL, ListLog())
    try:
        trained.train(1)
    finally:
        trained.close()
    saved = RunLayout(tmp_path / 'trained').learner_dir / 'policy.safetensors'
    settings = InProcessSettings(str(tmp_path / 'acted'), policy_file=str(saved),
                                 evaluate_only=True, eval_episodes=2, sensor_age_s=0.03)
    run = InProcessRun(settings, SMALL, ListLog())
    try:
        run.evaluate()
    finally:
        run.close()
    evaluated = RunLayout(tmp_path / 'acted').episodes('eval')
    assert len(evaluated) == 2 and RunLayout(tmp_path / 'acted').episodes('train') == []
    assert {r['policy_version'] for r in evaluated} == {trained.learner.weights_version}
    assert (run.learner.env_steps, run.learner.optimization_step) == (0, 0)
    for record in evaluated:
        assert record['frame_age_p50_ms'] == pytest.approx(30.0)
        assert record['joints_age_p95_ms'] == pytest.approx(30.0)
