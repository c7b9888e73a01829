"""The main job: HIL-SERL on the simulated SO-101, from nothing to an evaluated policy.

    scripts/train_sim [--experiment sim_grasp] [--output-dir runs/sim] [--episodes 300] ...

The experiment file (hilserl_experiments/experiments/<name>.yaml: sim_grasp, its ablations
sim_grasp_no_interventions and sim_grasp_no_demos, or a file of your own) gives every option's
value; options on the command line override it.

Stages, each leaving its artefacts under the output directory and a marker in `stages/` when it
is complete, so that a rerun (after Ctrl-C or a crash) skips what is done and resumes the rest:

  demos       the record_demos graph in simulation: the simulated operator demonstrates whole
              grasps while the actor records one rosbag2 (MCAP) per episode (demos/)
  encoder     the ResNet-10 image encoder pretrained on labelled simulated frames (encoder/);
              a simulation aid: on the real arm it is ImageNet weights from a file
  classifier  an auto-labelled simulated dataset, the reward classifier trained and evaluated
              on it (classifier_data/, reward_classifier/)
  train       the HIL-SERL graph: sim, simulated operator (short corrections), kinematics,
              reward classifier, actor and learner; a deterministic evaluation round of
              --eval-round-episodes every --eval-every episodes, with one policy version per
              round; stops after --episodes, or once two rounds in a row reach
              --target-success with the interventions below --target-interventions. After
              --mine-after episodes, if the reward disagreed with the simulation in any, one
              round of hard-negative mining retrains the classifier, the transitions of those
              episodes leave the learner's journal, and training resumes
  evaluate    the final deterministic evaluation (--final-eval-episodes) of the policy that
              passed when two rounds stopped training (their last round's episodes count
              towards it), else of the learner's last
  report      plots and summary.md (report/)
"""
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from hilserl_bringup.runner import GraphError
from hilserl_common.episode_labels import episode_labels, successful_episodes
from hilserl_common.figures import (
    MOVING_AVERAGE_EPISODES,
    evaluation_round,
    interval_text,
    intervention_share,
    last_episodes,
    percent_text,
    round_interval,
    training_text,
    updates_per_env_step,
)
from hilserl_experiments.job_steps import JobSteps, Stopped
from hilserl_experiments.main_job_options import ABLATIONS, STAGES, parse_options
from hilserl_experiments.report import write_report
from hilserl_learner.policy.weights import policy_file_version
from hilserl_learner.replay.journal import removal_text, remove_episodes

# The final evaluation's actor draws its scenes from --seed + this: never the scenes of the
# training graph's rounds, whose episodes it may count (stage_evaluate).
FINAL_EVALUATION_SEED = 500


class MainJob(JobSteps):
    """The stages; the plumbing (markers, graphs, commands, stopping) is JobSteps'."""

    # --- stages ---------------------------------------------------------------------------

    def demos_dir(self) -> Path:
        return self.out / 'demos'

    def demo_labels(self) -> dict:
        return episode_labels(self.demos_dir())

    def successful_demos(self) -> list:
        """Episode folders of the demonstrations that reached success (the demo buffer's)."""
        return successful_episodes(self.demos_dir())

    def stage_demos(self) -> dict:
        wanted = self.options.demos

        def describe():
            return (f'demos: {len(self.successful_demos())}/{wanted} successful, '
                    f'{len(self.demo_labels())} recorded')

        self.watch(self.graph('record_demos', {}),
                   lambda: len(self.successful_demos()) >= wanted, describe)
        self.say(describe())
        return {'episodes': len(self.demo_labels()), 'successful': len(self.successful_demos())}

    def encoder_weights(self) -> str:
        """The encoder every network of the run uses: the pretrained one, or '' (a fixed
        random ResNet-10) with --encoder random."""
        if self.options.encoder == 'random':
            return ''
        from hilserl_experiments.pretrain_encoder import WEIGHTS_FILE
        return str(self.out / 'encoder' / WEIGHTS_FILE)

    def stage_encoder(self) -> dict:
        if self.options.encoder == 'random':
            return {'encoder': 'random'}
        self.command([sys.executable, '-m', 'hilserl_experiments.pretrain_encoder', '--output',
                      str(self.out / 'encoder'), '--episodes',
                      str(self.options.encoder_episodes), '--epochs',
                      str(self.options.encoder_epochs)], 'encoder')
        return json.loads((self.out / 'encoder' / 'report.json').read_text())

    def classifier_labels(self) -> list:
        """The label files the classifier trains on: the generated dataset, and the frames a
        mining round added from each arm."""
        mined = [layout.mined_dir / 'labels.yaml' for layout in self.layout.arms().values()]
        return [str(self.out / 'classifier_data' / 'labels.yaml')] + \
            [str(labels) for labels in mined if labels.exists()]

    def stage_classifier(self) -> dict:
        data = self.out / 'classifier_data'
        cli = 'reward_classifier_cli'
        if not (data / 'labels.yaml').exists():
            self.command([cli, 'generate-sim', '--output', str(data),
                          '--episodes', str(self.options.classifier_episodes),
                          '--steps', str(self.options.classifier_steps),
                          '--carry-places', str(self.options.classifier_carry_places)],
                         'classifier')
        return self.train_classifier()

    def train_classifier(self) -> dict:
        """Train, evaluate and set the threshold of the classifier on classifier_labels()."""
        model = self.out / 'reward_classifier'
        cli = 'reward_classifier_cli'
        labels = self.classifier_labels()
        settings = [arg for item in (f'encoder_weights={self.encoder_weights()}',
                                     f'views={json.dumps(self.options.classifier_views)}',
                                     *self.options.classifier_set)
                    for arg in ('--set', item)]
        self.command([cli, 'train', '--labels', *labels, '--output',
                      str(model), '--config', self.config_path('reward_classifier.yaml'),
                      '--no-progress', *settings], 'classifier')
        # A false success ends an episode with a reward the policy did not earn, which misleads
        # RL more than a missed one: the node uses the most precise threshold that keeps 90%
        # recall on the validation frames (suggested and saved by `evaluate`).
        self.command([cli, 'evaluate', '--model', str(model), '--labels', *labels,
                      '--frames', 'validation', '--save-threshold',
                      '--encoder-weights', self.encoder_weights()], 'classifier')
        metrics_path = model / 'evaluation' / 'metrics.json'
        return json.loads(metrics_path.read_text()) if metrics_path.exists() else {}

    def config_path(self, name: str) -> str:
        from ament_index_python.packages import get_package_share_directory
        return os.path.join(get_package_share_directory('hilserl_bringup'), 'config', name)

    def train_overrides(self) -> dict:
        ablation = self.options.ablation
        demos = [] if ablation == 'no_demos' else self.successful_demos()
        learner_dir = self.layout.learner_dir
        return {
            # resume also from the journal alone: a learner killed before its first
            # checkpoint has stored transitions all the same
            'learner': {'demo_paths': ','.join(demos), 'run_dir': str(learner_dir),
                        'encoder_weights': self.encoder_weights(),
                        'resume': any((learner_dir / d).exists()
                                      for d in ('checkpoint', 'journal'))},
            'reward_classifier': {'encoder_weights': self.encoder_weights()},
            'actor': {'eval_every_episodes': self.options.eval_every,
                      'eval_round_episodes': self.options.eval_round_episodes},
            'operator': self.operator_overrides(),
            # The camera keeps its 30 Hz (config/sim.yaml): at the control rate the policy's
            # frame was up to a step old, which cut a policy's success from 50% to 20%.
        }

    def arm_overrides(self) -> dict:
        """Another arm's train graph: the run's classifier, and no evaluation rounds (the
        first arm's judge the policy; the others go on feeding the learner meanwhile)."""
        return {'reward_classifier': {'encoder_weights': self.encoder_weights(),
                                      'model_path': str(self.out / 'reward_classifier')},
                'actor': {'eval_every_episodes': 0}, 'operator': self.operator_overrides()}

    def operator_overrides(self) -> dict:
        return {'mode': 'off' if self.options.ablation == 'no_interventions' else 'corrections'}

    def train_graphs(self) -> list:
        """The train graph of the first arm (with the learner) and the robot side of each
        other arm (--robots)."""
        others = range(1, self.options.robots)
        return [self.graph('train', self.train_overrides())] + [
            self.graph('train', self.arm_overrides(), arm=k) for k in others]

    def train_episodes(self) -> list:
        return self.layout.episodes_of_arms('train')

    def eval_rounds(self) -> list:
        return self.layout.eval_rounds()

    def training_finished(self) -> bool:
        """The budget is spent, or the policy is done: its last two evaluation rounds reached
        --target-success while the operator corrected less than --target-interventions of the
        last 20 training episodes' steps (HIL-SERL's sign that the human is no longer needed).
        Two rounds, because one is too uncertain to stop on: 80% of a 20-episode round has a
        95% interval of 58-92%, and a run reached 80% in one round and 40% in the next."""
        episodes = self.train_episodes()
        if len(episodes) >= self.options.episodes:
            return True
        last_two = self.eval_rounds()[-2:]
        recent = last_episodes(episodes)
        return bool(len(last_two) == 2
                    and all(r['success_rate'] >= self.options.target_success
                            and r['episodes'] >= self.options.eval_round_episodes
                            for r in last_two)
                    and len(recent) == MOVING_AVERAGE_EPISODES
                    and intervention_share(recent) < self.options.target_interventions)

    def describe_training(self) -> str:
        text = training_progress(self.train_episodes(), self.options.episodes,
                                 self.eval_rounds(), self.layout.learner_stats())
        arms = self.layout.arms()
        if len(arms) > 1:
            text += '; episodes by arm: ' + ', '.join(
                f'{robot} {len(layout.episodes("train"))}' for robot, layout in arms.items())
        return text

    def stage_train(self) -> dict:
        mine_after = self.options.mine_after
        if mine_after and not self.done('mining'):
            self.watch(self.train_graphs(),
                       lambda: self.training_finished() or
                       len(self.train_episodes()) >= mine_after,
                       self.describe_training, period_s=30.0)
            if not self.training_finished():
                self.mark_done('mining', self.mining_round())
        if not self.training_finished():
            self.watch(self.train_graphs(), self.training_finished,
                       self.describe_training, period_s=30.0)
        rounds = self.eval_rounds()
        return {'train_episodes': len(self.train_episodes()),
                'reached_target': len(self.train_episodes()) < self.options.episodes,
                'last_evaluation': rounds[-1] if rounds else None,
                # where the last round's episodes end in eval_episodes.jsonl (stage_evaluate)
                'eval_episodes_recorded': len(self.layout.episodes('eval'))}

    def mining_round(self) -> dict:
        """Hard-negative mining once, when the reward disagreed with the simulation: the
        rewarded and the disagreeing frames of each arm's episodes so far join the classifier's
        dataset and it is retrained, and the transitions of the episodes whose reward was
        wrong leave the learner's journal, before training goes on."""
        arms = self.layout.arms()
        judged = {robot: [e for e in layout.episodes('train') if 'sim_success' in e]
                  for robot, layout in arms.items()}
        disagreed = {robot: [e['episode'] for e in episodes if e['success'] != e['sim_success']]
                     for robot, episodes in judged.items()}
        disagreed = {robot: episodes for robot, episodes in disagreed.items() if episodes}
        count = sum(map(len, judged.values()))
        if not disagreed:
            self.say(f'mining: the reward agreed with the simulation in all {count} episodes; '
                     'nothing to mine')
            return {'episodes_judged': count, 'disagreed': {}}
        self.say('mining: the reward disagreed with the simulation in episodes '
                 + '; '.join(f'{episodes} of {robot}' for robot, episodes in disagreed.items()))
        model = self.out / 'reward_classifier'
        before = json.loads((model / 'evaluation' / 'metrics.json').read_text())
        for robot in disagreed:
            mined = arms[robot].mined_dir
            if not (mined / 'labels.yaml').exists():
                shutil.rmtree(mined, ignore_errors=True)  # what an interrupted round left
                self.command(['reward_classifier_cli', 'mine', '--run', str(arms[robot].root),
                              '--model', str(model), '--output', str(mined)], 'classifier')
        after = self.train_classifier()
        removed = self.forget_rewards(disagreed)
        return {'episodes_judged': count, 'disagreed': disagreed,
                'validation_before': before.get('metrics'), 'validation_after':
                    after.get('metrics'), 'journal': removed}

    def forget_rewards(self, disagreed: dict) -> dict:
        """Take the transitions of these episodes ({robot: episode ids}) out of the learner's
        journal, so the resumed learner's buffers do not go on teaching the critic the rewards
        mining corrected.

        Removed, not relabelled with the retrained classifier AND gate: the gate's input is
        there (the measured joints are next_state[0:6]), the classifier's is not. A transition
        keeps only the wrist image, the classifier looks through the wrist and the front
        camera, and the reward journal, which has both, keeps no joints, no episode ids and no
        record of which scored frame gave a step its reward (the actor takes the newest
        verdict; transitions carry no stamps). Scoring other frames than the online reward did
        would be a different reward, not the retrained one.

        Only the episodes where the reward disagreed with the simulation leave: in the others
        the reward's verdict matched the simulation, whose labels the retrained classifier
        learns, and they hold the run's online successes. Episode ids are each arm's own, so
        with several arms only the rows of the arm (its actor id, the robot namespace) leave."""
        journal = self.layout.learner_dir / 'journal'
        removed = {'removed': 0, 'unidentified': 0}
        if not journal.is_dir():
            return removed
        several = len(self.layout.arms()) > 1
        for robot, episodes in disagreed.items():
            result = remove_episodes(journal, episodes, robot if several else None)
            self.say(f'mining: {robot}: {removal_text(result, episodes)}')
            removed = {k: removed[k] + result[k] for k in removed}
        return removed

    def stage_evaluate(self) -> dict:
        """The final evaluation: the eval graph (no learner, the operator off), the actor
        acting deterministically with the policy training ended with (final_policy).

        When that policy is the one the training's last evaluation round judged, the round's
        episodes count towards --final-eval-episodes and only the rest run here: the same
        weights, judged deterministically at the same speed, on other scenes (the eval graph's
        actor draws them from a seed of its own). That saves a round's episodes: 20 take about 2
        minutes at real time."""
        wanted = self.options.final_eval_episodes
        policy_file = self.final_policy()
        version = policy_file_version(policy_file)
        reused = self.last_round_slice(version, wanted)
        counted = reused[1] - reused[0] if reused else 0
        if counted:
            self.say(f'final evaluation: the {counted} episodes of the last round count (the '
                     f'same policy, v{version}); {wanted - counted} to run')
        before = len(self.layout.episodes('eval'))
        if wanted > counted:
            overrides = {'actor': {'eval_episodes': wanted - counted,
                                   'policy_file': str(policy_file),
                                   'seed': self.options.seed + FINAL_EVALUATION_SEED},
                         'reward_classifier': {'encoder_weights': self.encoder_weights()}}
            self.watch(self.graph('eval', overrides),
                       lambda: len(self.layout.episodes('eval')) - before >= wanted - counted,
                       lambda: self.describe_evaluation(before, wanted - counted))
        slices = [s for s in (reused, [before, before + wanted - counted]) if s and s[1] > s[0]]
        episodes = self.layout.episodes('eval')
        records = [e for start, stop in slices for e in episodes[start:stop]]
        return {**evaluation_round(records), 'policy_file': str(policy_file),
                'episode_slices': slices, 'reused_round_episodes': counted,
                'after_train_episodes': len(self.train_episodes())}

    def final_policy(self) -> Path:
        """The policy that passed when training stopped on its rounds (two in a row at
        --target-success: the learner's few updates after the last are judged by no round),
        else the learner's last saved policy."""
        figures = self.stage_figures('train')
        last = figures.get('last_evaluation')
        if figures.get('reached_target') and last:
            judged = self.layout.round_policy_path(last['policy_version'])
            if judged.exists():
                return judged
        if not self.layout.policy_path.exists():
            raise RuntimeError(f'no trained policy at {self.layout.policy_path}: run the train '
                               'stage first')
        return self.layout.policy_path

    def last_round_slice(self, version: int, wanted: int):
        """[start, stop) of the training's last evaluation round in eval_episodes.jsonl (at
        most `wanted` of its episodes), when every one of them ran policy `version`; else
        None."""
        figures = self.stage_figures('train')
        last, stop = figures.get('last_evaluation'), figures.get('eval_episodes_recorded')
        if not last or stop is None:
            return None
        start = stop - last['episodes']
        episodes = self.layout.episodes('eval')[start:stop]
        if start < 0 or len(episodes) != last['episodes'] or \
                any(e.get('policy_version') != version for e in episodes):
            return None
        return [start, min(stop, start + wanted)]

    def describe_evaluation(self, before: int, wanted: int) -> str:
        """Progress of the final evaluation: episodes run and how many succeeded."""
        episodes = self.layout.episodes('eval')[before:]
        successes = sum(e['success'] for e in episodes)
        text = f'final evaluation: {len(episodes)}/{wanted} episodes'
        if episodes:
            text += f', {successes} succeeded ({successes / len(episodes):.0%})'
        return text

    def stage_report(self) -> dict:
        summary = write_report(self.out)
        self.say(f'report: {summary}')
        return {'summary': str(summary)}

    # --- the whole job ----------------------------------------------------------------------

    def run(self) -> int:
        self.out.mkdir(parents=True, exist_ok=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop_requested.set())
        self.say(f'HIL-SERL on the simulated SO-101 ({ABLATIONS[self.options.ablation]}); '
                 f'output in {self.out}')
        try:
            self.user_settings()  # a malformed --set stops the job before anything runs
            for stage in STAGES:
                if stage in self.options.skip:
                    continue
                if self.done(stage) and stage != 'report':
                    self.say(f'{stage}: already done ({self.marker(stage)})')
                    continue
                self.say(f'{stage}: starting')
                figures = getattr(self, f'stage_{stage}')()
                self.mark_done(stage, figures)
                self.say(f'{stage}: done')
        except Stopped:
            self.say('stopped; run the same command again to resume')
            return 130
        except (GraphError, RuntimeError) as error:
            self.say(f'FAILED: {error}')
            return 1
        self.say(f'finished in {(time.monotonic() - self.started) / 60:.1f} min; '
                 f'see {self.out}/report/summary.md')
        return 0


def training_progress(episodes: list, budget: int, rounds: list, stats: list) -> str:
    """The train stage's progress line, from the run's records (hilserl_common.figures: the
    console and the report show the same figures)."""
    text = f'train: episode {len(episodes)}/{budget}'
    if episodes:
        text += f', {training_text(episodes)}, policy v{episodes[-1]["policy_version"]}'
    if rounds:
        last = rounds[-1]
        text += (f', last evaluation {percent_text(last["success_rate"])} of '
                 f'{last["episodes"]} (95% interval {interval_text(round_interval(last))})')
    if stats:
        per_step = updates_per_env_step(stats)
        text += (f', learner {stats[-1].get("updates_per_s", 0):.0f} updates/s, '
                 f'{"—" if per_step is None else f"{per_step:.1f}"} per env step')
    return text


def main(argv=None):
    sys.exit(MainJob(parse_options(argv)).run())


if __name__ == '__main__':
    main()
