"""The real-arm walkthrough (README, "On the real arm", steps 4-8) rehearsed on the simulated
arm, exactly as a person follows it: the commands the README shows (rehearsal_walkthrough), run
with `sim:=true`, in a folder of their own (the README's `runs/real` and parameter files lie
inside it).

    scripts/rehearse_real_arm --encoder-weights FILE [--output-dir runs/rehearsal] ...

The follower, the cameras and the leader are the simulation's; the person is the simulated
operator, who demonstrates grasps and each failure mode and marks them on `operator_event` as a
person's keys do. Where the walkthrough asks the person to look (a contact sheet, the mined
frames) the simulation tells the simulated person only whether the cube is up in the frames
shown (rehearsal_person), and its decision reaches a label file only through
`reward_classifier_cli label`. The encoder weights come from a local file, as on the real arm.

Steps, each marked done in `stages/` so that a rerun resumes:
  record      step 4: SUCCESSES grasps, then FAILURES_PER_KIND near misses, drops and jaws
              closed on air, marked success / failure (re-record when one went wrong)
  label       step 5: each success's contact sheet, and its cutoff set where the cube is up
  classifier  step 5: the classifier trained on the recordings (both cameras) and evaluated
              on its held-out frames
  train       step 6: HIL-SERL training, stopped (as with Ctrl-C) after --mine-after episodes
  mine        step 7: the frames the classifier rewarded, labelled by the person, the
              classifier retrained, the transitions of the wrongly rewarded episodes forgotten
  resume      step 7: training resumed up to --train-episodes
  evaluate    step 8: the eval graph with the learner's last policy
  report      classifier accuracy, the reward's agreement with the simulation, evaluation
              success beside the main job's (--main-job) at the same training budget
              (report.json, report.md)
"""
import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Optional

import yaml

from hilserl_bringup.runner import Graph, GraphError, parse_launch_arguments
from hilserl_common.episode_labels import episode_labels, needs_review
from hilserl_common.figures import interval_text, reward_agreement, success_interval
from hilserl_common.run_layout import RunLayout
from hilserl_experiments import rehearsal_walkthrough as walkthrough
from hilserl_experiments.job_steps import JobSteps, Stopped
from so101_sim.scripted_grasp import FAILURE_KINDS, SUCCESS

STAGES = ('record', 'label', 'classifier', 'train', 'mine', 'resume', 'evaluate', 'report')


class Rehearsal(JobSteps):
    name = 'rehearsal'

    def __init__(self, options):
        super().__init__(options)
        self.run_dir = self.out / walkthrough.RUN
        self.layout = RunLayout(self.run_dir)

    # --- how a step runs: the walkthrough's command, rehearsed ----------------------------

    def step(self, name: str, extra=(), **values) -> str:
        """A command-line step: the command a person types (printed), run on the simulated
        arm. Returns its output."""
        text = walkthrough.command(name, **values)
        args = walkthrough.rehearsed(text, extra)
        if args[0] == 'python':
            args[0] = sys.executable
        return self.command(args, name, shown=shown(text, extra))

    def graph_step(self, name: str, extra, finished, describe):
        """A graph step: the person's `run_graph` command, run until `finished()` and then
        stopped as Ctrl-C stops it."""
        text = walkthrough.command(name)
        args = walkthrough.rehearsed(text, extra)
        self.say(shown(text, extra))
        graph = Graph(args[1], parse_launch_arguments(args[2:]), quiet=True)
        self.watch(graph, finished, describe)

    def sim_arguments(self, real_time_factor: float = 1.0) -> list:
        port = self.options.console_port
        return ([f'real_time_factor:={real_time_factor}'] if real_time_factor != 1.0 else []) + \
            (['console:=false'] if port < 0 else [f'console_port:={port}'])

    def parameter_file(self, name: str, sections: dict) -> str:
        """The walkthrough's parameter file `name` as the README shows it, plus the rehearsal's
        sizes and seeds (and --set)."""
        base = yaml.safe_load(walkthrough.FILES[name])
        return self.overrides_file(name, sections, Path(name), base)

    # --- step 4 ---------------------------------------------------------------------------

    def demo_labels(self) -> dict:
        return episode_labels(walkthrough.DEMO_LABELS)

    def counts(self):
        labels = self.demo_labels().values()
        successes = sum(label['success_from_frame'] is not None for label in labels)
        return successes, len(labels) - successes

    def stage_record(self) -> dict:
        failures = self.options.failures_per_kind
        plan = [SUCCESS] * self.options.successes + [kind for kind in FAILURE_KINDS
                                                     for _ in range(failures)]
        # The person's intent (what to perform, in turn) and their keys, not the simulation,
        # label the recordings: no reward comes while recording, only the marks.
        config = self.overrides_file('record_demos', {
            'operator': {'demo_plan': plan, 'marks': True,
                         'demo_lift_heights_m': list(walkthrough.LIFT_HEIGHTS_M),
                         'demo_carry_places': walkthrough.CARRY_PLACES},
            'actor': {'reward_source': 'classifier'}})
        wanted = (self.options.successes, failures * len(FAILURE_KINDS))

        def describe():
            return 'record: {} of {} successes, {} of {} failures'.format(
                *[x for pair in zip(self.counts(), wanted) for x in pair])
        self.graph_step('record', [f'config_file:={config}'] + self.sim_arguments(),
                        lambda: all(c >= w for c, w in zip(self.counts(), wanted)), describe)
        successes, failures = self.counts()
        return {'successes': successes, 'failures': failures}

    # --- step 5 ---------------------------------------------------------------------------

    def stage_label(self) -> dict:
        from hilserl_experiments.rehearsal_person import cube_up_in_bag, first_success, look_earlier
        changed = {}
        for episode, label in self.demo_labels().items():
            marked = label['success_from_frame']
            if marked is None:
                continue
            cube_up = cube_up_in_bag(self.run_dir / 'demos' / episode)
            shown = sheet_frames(self.step('contact_sheet', episode=episode))
            while (centre := look_earlier(shown, cube_up)) is not None:
                shown = sorted(set(shown) | set(sheet_frames(self.step(
                    'contact_sheet_earlier', episode=episode, frame=centre))))
            seen = first_success(shown, cube_up)
            if seen is not None and seen != marked:
                self.step('label', episode=episode, frame=seen)
                changed[episode] = {'marked': marked, 'seen': seen}
        return {'cutoffs_changed': changed}

    def label_files(self) -> str:
        has_mined = episode_labels(walkthrough.MINED_LABELS)
        return walkthrough.DEMO_LABELS + (f' {walkthrough.MINED_LABELS}' if has_mined else '')

    def stage_classifier(self) -> dict:
        labels = self.label_files()
        extra = [arg for item in self.options.classifier_set for arg in ('--set', item)]
        self.step('train_classifier', extra + ['--no-progress'], labels=labels)
        self.step('evaluate_classifier', labels=labels)
        metrics = self.run_dir / 'reward_classifier' / 'evaluation' / 'metrics.json'
        return {'labels': labels, **json.loads(metrics.read_text())['metrics']}

    # --- steps 6 and 7 --------------------------------------------------------------------

    def train_until(self, episodes: int) -> dict:
        self.parameter_file(walkthrough.TRAIN_OVERRIDES, {})
        self.graph_step('train', self.sim_arguments(self.options.real_time_factor),
                        lambda: len(self.layout.episodes('train')) >= episodes,
                        lambda: f'train: episode {len(self.layout.episodes("train"))}/{episodes}')
        return {'train_episodes': len(self.layout.episodes('train'))}

    def stage_train(self) -> dict:
        return self.train_until(self.options.mine_after)

    def stage_mine(self) -> dict:
        from hilserl_experiments.rehearsal_person import cube_up_in_mined, first_success
        mined = self.layout.mined_dir
        shutil.rmtree(mined, ignore_errors=True)  # what an interrupted round left
        # A simulated run mined as the real arm's: only the rewarded frames, none labelled.
        self.step('mine', ['--without-simulation'])
        names = needs_review(mined)
        wrong = []
        for name in names:  # the person looks at <name>_contact_sheet.png
            cube_up = cube_up_in_mined(mined / name, self.run_dir)
            frame = first_success(range(len(cube_up)), cube_up)
            self.step('label_mined', episode=name, frame='none' if frame is None else frame)
            if frame is None:  # rewarded, never a success: the reward was wrong
                wrong.append(int(name.split('_')[1]))
        figures = {'reviewed': names, 'wrongly_rewarded': wrong}
        if names:
            figures['classifier'] = self.stage_classifier()
        if wrong and (self.run_dir / 'learner' / 'journal').is_dir():
            self.step('forget', episodes=' '.join(map(str, wrong)))
        return figures

    def stage_resume(self) -> dict:
        return self.train_until(self.options.train_episodes)

    # --- step 8 and the report ------------------------------------------------------------

    def stage_evaluate(self) -> dict:
        wanted = self.options.eval_episodes
        before = len(self.layout.episodes('eval'))
        self.parameter_file(walkthrough.EVAL_OVERRIDES, {'actor': {'eval_episodes': wanted}})

        def evaluated():
            return self.layout.episodes('eval')[before:]
        # at the speed the policy trained at, as the main job evaluates
        self.graph_step('evaluate', self.sim_arguments(self.options.real_time_factor),
                        lambda: len(evaluated()) >= wanted,
                        lambda: f'evaluate: {len(evaluated())}/{wanted} episodes')
        return success_figures(evaluated())

    def stage_report(self) -> dict:
        figures = {stage: self.stage_figures(stage) for stage in STAGES[:-1] if self.done(stage)}
        report = {
            'classifier_validation_accuracy': figures['classifier'].get('accuracy'),
            'classifier_after_mining': figures['mine'].get('classifier', {}).get('accuracy'),
            'reward_agreement': agreement(self.layout.episodes('train')),
            'evaluation': figures['evaluate'],
            'recorded': figures['record'], 'cutoffs_changed': len(
                figures['label']['cutoffs_changed']),
            'mining': {k: figures['mine'][k] for k in ('reviewed', 'wrongly_rewarded')},
            'main_job': main_job_round(self.main_job, len(self.layout.episodes('train')))}
        (self.out / 'report.json').write_text(json.dumps(report, indent=1) + '\n')
        (self.out / 'report.md').write_text(report_text(report))
        self.say('report:\n' + report_text(report))
        return report

    # --- the whole rehearsal --------------------------------------------------------------

    def prepare(self):
        """The work folder, and the encoder weights where the walkthrough expects the person's
        local file."""
        self.main_job = Path(self.options.main_job).resolve()  # before leaving the cwd
        self.out.mkdir(parents=True, exist_ok=True)
        weights = Path(self.options.encoder_weights).resolve()
        if not weights.is_file():
            raise RuntimeError(f'--encoder-weights {weights}: no such file')
        os.chdir(self.out)
        if not Path(walkthrough.ENCODER_WEIGHTS).exists():
            shutil.copyfile(weights, walkthrough.ENCODER_WEIGHTS)

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop_requested.set())
        try:
            self.user_settings()
            self.prepare()
            self.say(f'rehearsing the real-arm walkthrough on the simulated arm in {self.out}')
            for stage in STAGES:
                if self.done(stage) and stage != 'report':
                    self.say(f'{stage}: already done')
                    continue
                self.mark_done(stage, getattr(self, f'stage_{stage}')())
        except Stopped:
            self.say('stopped; run the same command again to resume')
            return 130
        except (GraphError, RuntimeError, ValueError) as error:
            self.say(f'FAILED: {error}')
            return 1
        self.say(f'finished in {(time.monotonic() - self.started) / 60:.1f} min; see '
                 f'{self.out}/report.md')
        return 0


def shown(text: str, extra) -> str:
    """A step's command line as printed: what the person types, and what the rehearsal adds."""
    return f'$ {text}' + (f'    (rehearsed with {" ".join(extra)})' if extra else '')


def sheet_frames(output: str) -> list:
    """The frame numbers of a contact sheet, from the CLI's '(frames A..B)'."""
    first, last = output.rsplit('(frames ', 1)[1].split(')')[0].split('..')
    return list(range(int(first), int(last) + 1))


def agreement(episodes: list) -> dict:
    """How often the reward (classifier AND gate) agreed with the simulation's success."""
    figures = reward_agreement(episodes)
    judged = figures['judged_episodes']
    agreed = judged - figures['false_successes'] - figures['missed_successes']
    return {'episodes': judged, 'agreed': agreed, 'rate': agreed / judged if judged else None,
            'false_successes': figures['false_successes'],
            'missed_successes': figures['missed_successes']}


def main_job_round(run: Path, train_episodes: int) -> Optional[dict]:
    """The main job's evaluation round after the most training episodes up to
    `train_episodes` (the same budget as the rehearsal's), or None without one."""
    rounds = [r for r in RunLayout(run).eval_rounds()
              if r.get('after_train_episodes', 0) <= train_episodes]
    if not rounds:
        return None
    last = max(rounds, key=lambda r: r['after_train_episodes'])
    return {'run': str(run), **{key: last[key] for key in (
        'after_train_episodes', 'episodes', 'success_rate', 'success_interval')}}


def success_figures(episodes: list) -> dict:
    successes = sum(bool(e['success']) for e in episodes)
    return {'episodes': len(episodes), 'successes': successes,
            'success_rate': successes / len(episodes) if episodes else None,
            'success_interval': success_interval(successes, len(episodes))}


def report_text(report: dict) -> str:
    def share(value):
        return 'n/a' if value is None else f'{value:.1%}'
    reward, evaluation = report['reward_agreement'], report['evaluation']
    return '\n'.join([
        '# Real-arm walkthrough, rehearsed on the simulated arm', '',
        f'- recorded: {report["recorded"]["successes"]} successes, '
        f'{report["recorded"]["failures"]} failures; {report["cutoffs_changed"]} cutoffs '
        'moved after looking at the contact sheets',
        f'- classifier accuracy on held-out labelled frames (both cameras): '
        f'{share(report["classifier_validation_accuracy"])} (goal >= 95%); after mining: '
        f'{share(report["classifier_after_mining"])}',
        f'- mining: {len(report["mining"]["reviewed"])} episodes reviewed, wrongly rewarded: '
        f'{report["mining"]["wrongly_rewarded"]}',
        f'- the reward agreed with the simulation in {reward["agreed"]} of {reward["episodes"]} '
        f'training episodes ({share(reward["rate"])}, goal >= 95%; {reward["false_successes"]} '
        f'false, {reward["missed_successes"]} missed successes)',
        f'- evaluation: {evaluation["successes"]} of {evaluation["episodes"]} '
        f'({share(evaluation["success_rate"])}, 95% interval '
        f'{interval_text(evaluation["success_interval"])})', main_job_text(report['main_job']),
        ''])


def main_job_text(main_job: Optional[dict]) -> str:
    if main_job is None:
        return '- the main job: no evaluation round to compare with (--main-job)'
    return (f'- the main job ({main_job["run"]}) after {main_job["after_train_episodes"]} training '
            f'episodes: {main_job["success_rate"]:.0%} of {main_job["episodes"]} (95% interval '
            f'{interval_text(main_job["success_interval"])})')


def parse_options(argv=None):
    parser = argparse.ArgumentParser(prog='scripts/rehearse_real_arm', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--encoder-weights', required=True, help='a local ResNet-10 '
                        '.safetensors file (on the simulated arm, e.g. the main job\'s '
                        'runs/sim/encoder/resnet10_sim.safetensors)')
    parser.add_argument('--output-dir', default='runs/rehearsal', help='the work folder: the '
                        f'walkthrough\'s {walkthrough.RUN} and parameter files lie inside it')
    parser.add_argument('--successes', type=int, default=walkthrough.SUCCESSES)
    parser.add_argument('--failures-per-kind', type=int, default=walkthrough.FAILURES_PER_KIND,
                        help=f'failures of each kind: {", ".join(FAILURE_KINDS)}')
    parser.add_argument('--mine-after', type=int, default=30,
                        help='training episodes before mining (step 7)')
    parser.add_argument('--train-episodes', type=int, default=60,
                        help='training episodes in all')
    parser.add_argument('--eval-episodes', type=int, default=50)
    parser.add_argument('--episode-seconds', type=float, default=0.0,
                        help='length of training and evaluation episodes (default: '
                        'config/task.yaml); demonstrations keep the configured length')
    parser.add_argument('--real-time-factor', type=float, default=0.3,
                        help='simulation speed of the training graph (as scripts/train_sim)')
    parser.add_argument('--classifier-set', action='append', default=[], metavar='NAME=VALUE',
                        help='a reward classifier training parameter, e.g. epochs=10')
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help='a node parameter for the graphs (node "*": every node)')
    parser.add_argument('--main-job', default='runs/sim', help='a main job\'s output '
                        'directory: the report puts its evaluation round at the same training '
                        'budget beside the rehearsal\'s')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--console-port', type=int, default=-1,
                        help='serve the operator console on this port (0: any free; -1: none)')
    options = parser.parse_args(argv)
    if options.mine_after > options.train_episodes:
        parser.error('--mine-after must not exceed --train-episodes')
    return options


def main(argv=None):
    sys.exit(Rehearsal(parse_options(argv)).run())


if __name__ == '__main__':
    main()
