"""The commands of `reward_classifier_cli` (cli.py holds their arguments): each takes the parsed
arguments, prints what it did and returns the exit code; a user mistake raises CommandError."""
import json
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import yaml

from hilserl_common.config import from_dict, load_yaml_section
from reward_classifier.config import TRAINING_SECTION, TrainingConfig


class CommandError(ValueError):
    """A user mistake on the command line; printed without a traceback."""


def training_config(config_path: Optional[str], overrides: List[str]) -> TrainingConfig:
    values = load_yaml_section(config_path, TRAINING_SECTION) if config_path else {}
    for item in overrides:
        name, sep, text = item.partition('=')
        if not sep or not name:
            raise CommandError(f'--set {item!r}: expected NAME=VALUE')
        values[name.strip()] = yaml.safe_load(text) if text else ''
    source = config_path or 'command line'
    return from_dict(TrainingConfig, values, source)


# --- contact-sheet ---------------------------------------------------------------------------

def contact_sheet_command(args) -> int:
    from reward_classifier.contact_sheet import contact_sheet, frames_around, label_colour, save_png
    from reward_classifier.data.bags import read_episode_frames
    from reward_classifier.data.labels import load_labels

    label_file = load_labels(args.labels)
    episode = label_file.episode(args.episode)
    frames = read_episode_frames(label_file.bag_path(episode), label_file.image_topic)
    labels = episode.frame_labels(len(frames.images))
    centre = args.around if args.around is not None else _default_centre(episode, len(labels))
    if not 0 <= centre < len(labels):
        raise CommandError(f'--around {centre}: episode {episode.name} has frames '
                           f'0..{len(labels) - 1}')
    shown = frames_around(len(labels), centre, args.radius)
    captions = [f'{i}{" *" if i == centre else ""} {"success" if labels[i] else "fail"}'
                for i in shown]
    title = f'{episode.name}: {episode.to_dict()} ({len(labels)} frames, {frames.topic})'
    sheet = contact_sheet([frames.images[i] for i in shown], captions,
                          [label_colour(labels[i]) for i in shown], args.columns, title)
    output = args.output or label_file.path.parent / f'{episode.name}_contact_sheet.png'
    print(f'wrote {save_png(output, sheet)} (frames {shown[0]}..{shown[-1]})')
    return 0


def _default_centre(episode, num_frames: int) -> int:
    if episode.success_ranges:
        return episode.success_ranges[0][0]
    if episode.success_from_frame is not None:
        return min(episode.success_from_frame, num_frames - 1)
    return num_frames // 2


# --- train -----------------------------------------------------------------------------------

def train_command(args) -> int:
    import torch

    from reward_classifier.data.dataset import load_datasets
    from reward_classifier.evaluation import binary_metrics
    from reward_classifier.model import build_classifier, save_classifier
    from reward_classifier.training import summary_metrics, train_classifier

    config = training_config(args.config, args.set)
    if config.device == 'cuda' and not torch.cuda.is_available():
        raise CommandError('device = cuda, but torch sees no GPU')
    started = time.monotonic()
    frames = load_datasets(args.labels, config.views)
    print(f'read {len(frames)} frames ({", ".join(config.views)}) from '
          f'{len(frames.episode_names)} episodes in {time.monotonic() - started:.1f} s')
    model = build_classifier(config.encoder_weights, config.hidden_dim, config.dropout,
                             config.spatial_features, config.seed, config.views)
    print(f'encoder: {model.encoder_identity}')
    result = train_classifier(model, frames, config, progress=not args.no_progress)
    validation = frames.subset(result.validation_indices)
    probabilities = model.predict(validation.images)
    at_threshold = binary_metrics(validation.labels, probabilities, config.threshold)
    metrics = {**summary_metrics(result), 'validation': at_threshold.as_dict()}
    extra = {'trained_on': {'labels': [str(Path(p).resolve()) for p in args.labels],
                            'seed': config.seed,
                            'validation_fraction': config.validation_fraction,
                            'episodes': len(frames.episode_names), 'frames': len(frames)},
             'training_config': {k: getattr(config, k) for k in config.__dataclass_fields__},
             'history': [vars(r) for r in result.history],
             'training_seconds': round(time.monotonic() - started, 1)}
    directory = save_classifier(model, args.output, config.threshold, metrics, extra)
    print(at_threshold.report())
    print(f'saved the model of epoch {result.best_epoch} to {directory}')
    return 0


# --- evaluate --------------------------------------------------------------------------------

def evaluate_command(args) -> int:
    from reward_classifier.contact_sheet import FAILURE_COLOUR, contact_sheet, save_png
    from reward_classifier.data.dataset import load_datasets, split_frames
    from reward_classifier.evaluation import (
        binary_metrics,
        most_precise_with_recall,
        plot_precision_recall,
        threshold_sweep,
        worst_false_positives,
    )
    from reward_classifier.model import load_classifier

    encoder_weights = args.encoder_weights
    if encoder_weights is None:
        encoder_weights = training_config(args.config, []).encoder_weights if args.config \
            else ''
    model, description = load_classifier(args.model, encoder_weights)
    frames = load_datasets(args.labels, model.views)
    if args.frames != 'all':
        split = description.get('trained_on', {})
        train_idx, val_idx = split_frames(frames.labels, split.get('validation_fraction', 0.2),
                                          split.get('seed', 0))
        frames = frames.subset(val_idx if args.frames == 'validation' else train_idx)
    threshold = description['threshold'] if args.threshold is None else args.threshold
    started = time.perf_counter()
    probabilities = model.predict(frames.images)
    per_frame_ms = 1000 * (time.perf_counter() - started) / max(1, len(frames))
    metrics = binary_metrics(frames.labels, probabilities, threshold)
    sweep = threshold_sweep(frames.labels, probabilities)
    suggested = most_precise_with_recall(sweep, args.min_recall)
    output = Path(args.output) if args.output else Path(args.model) / 'evaluation'
    output.mkdir(parents=True, exist_ok=True)
    curve = plot_precision_recall(sweep, metrics, output / 'precision_recall.png')
    worst = worst_false_positives(frames.labels, probabilities, threshold, args.worst)
    print(f'{args.frames} frames of {" ".join(args.labels)}: {len(frames)}')
    print(metrics.report())
    print(f'suggested threshold (most precise with recall >= {args.min_recall}): '
          f'{suggested.threshold:.2f} -> precision {suggested.precision:.4f} recall '
          f'{suggested.recall:.4f}')
    print(f'batched inference: {per_frame_ms:.2f} ms/frame')
    print(f'wrote {curve}')
    if len(worst):
        sheet = contact_sheet([np.hstack(frames.images[i]) for i in worst],
                              [f'{frames.describe(i)} p={probabilities[i]:.2f}' for i in worst],
                              [FAILURE_COLOUR] * len(worst), 6,
                              f'worst false positives at threshold {threshold:.2f}')
        print(f'wrote {save_png(output / "false_positives.png", sheet)} '
              f'({len(worst)} frames)')
    else:
        print('no false positives at this threshold')
    if args.save_threshold:
        path = save_threshold(args.model, suggested.threshold)
        print(f'stored threshold {suggested.threshold:.2f} in {path}')
    report = {'frames': args.frames, 'labels': [str(p) for p in args.labels],
              'metrics': metrics.as_dict(),
              'suggested_threshold': suggested.as_dict(), 'inference_ms_per_frame': per_frame_ms,
              'worst_false_positives': [{'frame': frames.describe(i),
                                         'probability': float(probabilities[i])}
                                        for i in worst],
              'sweep': [m.as_dict() for m in sweep]}
    (output / 'metrics.json').write_text(json.dumps(report, indent=2) + '\n')
    return 0


def save_threshold(model_path, threshold: float) -> Path:
    from reward_classifier.model import CONFIG_FILE, read_description
    directory, description = read_description(model_path)
    description['threshold'] = float(threshold)
    path = directory / CONFIG_FILE
    path.write_text(json.dumps(description, indent=2) + '\n')
    return path


# --- generate-sim ----------------------------------------------------------------------------

def generate_sim_command(args) -> int:
    from reward_classifier.sim_dataset import generate_dataset

    if args.episodes < 1:
        raise CommandError(f'--episodes {args.episodes}: need at least 1')
    if not 0.0 <= args.failure_fraction <= 1.0:
        raise CommandError(f'--failure-fraction {args.failure_fraction}: expected [0, 1]')
    if args.steps < 1 or args.control_rate_hz <= 0:
        raise CommandError('--steps and --control-rate-hz must be positive')
    if args.carry_places < 0:
        raise CommandError(f'--carry-places {args.carry_places}: expected 0 or more')
    try:
        summary = generate_dataset(Path(args.output), args.episodes, args.seed,
                                   args.failure_fraction, args.steps, args.namespace,
                                   args.control_rate_hz, carry_places=args.carry_places)
    except FileExistsError as error:
        raise CommandError(str(error)) from None
    print(summary)
    return 0


# --- label -----------------------------------------------------------------------------------

def label_command(args) -> int:
    """Set one episode's success cutoff in a label file, as a person does after looking at its
    contact sheet (the file may list no episode yet: a mined dataset waiting for review)."""
    from hilserl_common.episode_labels import label_document, label_file, record_episode_label
    from reward_classifier.data.bags import read_episode_frames

    path = label_file(args.labels)
    if not path.exists():
        raise CommandError(f'label file {path} does not exist')
    bag = path.parent / args.episode
    if not bag.exists():
        raise CommandError(f'{path}: no episode bag {bag}')
    cutoff = _cutoff(args.success_from_frame)
    if cutoff is not None:
        topic = label_document(path).get('image_topic')
        frames = len(read_episode_frames(bag, topic).images)
        if cutoff >= frames:
            raise CommandError(f'--success-from-frame {cutoff}: {args.episode} has frames '
                               f'0..{frames - 1}')
    record_episode_label(path, args.episode, cutoff)
    print(f'{path}: {args.episode} success_from_frame {"null" if cutoff is None else cutoff}')
    return 0


def _cutoff(text: str) -> Optional[int]:
    if text.strip().lower() in ('none', 'null'):
        return None
    try:
        cutoff = int(text)
    except ValueError:
        cutoff = -1
    if cutoff < 0:
        raise CommandError(f'--success-from-frame {text}: expected a frame number >= 0, or none '
                           '(never a success)')
    return cutoff


# --- mine ------------------------------------------------------------------------------------

def mine_command(args) -> int:
    from reward_classifier.mining import mine_run, write_mined
    from reward_classifier.model import read_description

    _, description = read_description(args.model)
    views = description.get('architecture', {}).get('views', ['wrist_camera'])
    try:
        episodes = mine_run(args.run_dir, float(description['threshold']),
                            simulation=not args.without_simulation)
        summary = write_mined(episodes, args.output, views)
    except (FileNotFoundError, FileExistsError) as error:
        raise CommandError(str(error)) from None
    print(f'mined {summary["frames"]} frames of {summary["episodes"]} episodes '
          f'({summary["success"]} success, {summary["unlabelled"]} unlabelled) into '
          f'{args.output}')
    for episode in episodes:
        print(f'  {episode.name}: {len(episode.frames)} frames ({episode.why})')
    if summary['needs_review']:
        print(f'label {len(summary["needs_review"])} episodes by hand first: see '
              f'{Path(args.output) / "needs_review.yaml"}')
    else:
        print(f'retrain: reward_classifier_cli train --labels DATASET/labels.yaml '
              f'{Path(args.output) / "labels.yaml"} --output NEW_MODEL')
    return 0
