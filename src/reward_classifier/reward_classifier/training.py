"""Training loop of the classifier: seeded frame split, class-balanced loss, augmentation,
per-epoch validation and early stopping on the validation loss. No ROS here."""
import copy
import dataclasses
from typing import Callable, Dict, List

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from reward_classifier.config import TrainingConfig
from reward_classifier.data.augmentation import augment
from reward_classifier.data.dataset import LabelledFrames, class_balance, split_frames
from reward_classifier.model import RewardClassifier, to_input


@dataclasses.dataclass
class EpochReport:
    epoch: int
    train_loss: float
    train_accuracy: float
    validation_loss: float
    validation_accuracy: float

    def line(self) -> str:
        return (f'epoch {self.epoch:3d}: train loss {self.train_loss:.4f} '
                f'acc {self.train_accuracy:.3f} | validation loss {self.validation_loss:.4f} '
                f'acc {self.validation_accuracy:.3f}')


@dataclasses.dataclass
class TrainingResult:
    history: List[EpochReport]
    best_epoch: int
    train_indices: np.ndarray
    validation_indices: np.ndarray

    @property
    def best(self) -> EpochReport:
        return self.history[self.best_epoch - 1]


def positive_weight(labels: np.ndarray) -> float:
    """failures / successes, so both classes weigh the same in the loss (1 when one is absent)."""
    positives = int(np.sum(labels == 1))
    negatives = len(labels) - positives
    return negatives / positives if positives and negatives else 1.0


@torch.no_grad()
def encode_frames(model: RewardClassifier, images: np.ndarray, device,
                  batch_size: int = 256) -> torch.Tensor:
    """The frozen encoder's feature maps of uint8 frames (no augmentation)."""
    return torch.cat([model.encoder_features(to_input(images[i:i + batch_size], device))
                      for i in range(0, len(images), batch_size)])


def train_classifier(model: RewardClassifier, frames: LabelledFrames, config: TrainingConfig,
                     log: Callable[[str], None] = print, progress: bool = True) -> TrainingResult:
    """Train `model`'s trainable parts in place; on return it holds the best epoch's weights."""
    device = torch.device(config.device)
    model.to(device)
    torch.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    shuffle_rng = np.random.default_rng(config.seed)

    train_idx, val_idx = split_frames(frames.labels, config.validation_fraction, config.seed)
    log(f'dataset: {class_balance(frames.labels)} from {len(frames.episode_names)} episodes')
    log(f'train: {class_balance(frames.labels[train_idx])}')
    log(f'validation: {class_balance(frames.labels[val_idx])}')

    labels = torch.as_tensor(frames.labels, dtype=torch.float32, device=device)
    pos_weight = torch.tensor(positive_weight(frames.labels[train_idx])
                              if config.balance_classes else 1.0, device=device)
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    # The encoder is frozen: the features of the frames (and of a few augmented copies of the
    # training frames) are computed once; the epochs only train the head on them.
    val_features = encode_frames(model, frames.images[val_idx], device)
    train_features, train_targets = _training_features(model, frames.images[train_idx],
                                                       labels[train_idx], config, generator,
                                                       device)

    history: List[EpochReport] = []
    best_loss, best_state, best_epoch = float('inf'), None, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = shuffle_rng.permutation(len(train_targets))
        batches = [order[i:i + config.batch_size] for i in range(0, len(order),
                                                                 config.batch_size)]
        loss_sum, correct = 0.0, 0
        bar = tqdm(batches, desc=f'epoch {epoch}', unit='batch', leave=False,
                   disable=not progress)
        for batch in bar:
            target = train_targets[batch]
            logits = model.head_logits(train_features[batch])
            loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(batch)
            correct += int(((logits >= 0) == (target > 0.5)).sum())
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        val_loss, val_acc = _validate(model, val_features, labels[val_idx], pos_weight)
        report = EpochReport(epoch, loss_sum / len(train_targets),
                             correct / len(train_targets), val_loss, val_acc)
        history.append(report)
        log(report.line())
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= config.early_stopping_patience:
            log(f'early stop: no lower validation loss for {config.early_stopping_patience} '
                f'epochs; keeping epoch {best_epoch}')
            break
    model.load_state_dict(best_state)
    model.eval()
    return TrainingResult(history, best_epoch, train_idx, val_idx)


@torch.no_grad()
def _training_features(model, images, targets, config: TrainingConfig, generator, device,
                       batch_size: int = 256):
    """Features of the training frames, then of `augmented_copies` augmented copies of them
    (each copy its own draw of colour jitter and shift), with their targets."""
    features = [encode_frames(model, images, device)]
    copies = config.augmented_copies if config.augmentation.enabled else 0
    for _ in range(copies):
        features.append(torch.cat([
            model.encoder_features(_augmented(to_input(images[i:i + batch_size], device),
                                              config, generator))
            for i in range(0, len(images), batch_size)]))
    return torch.cat(features), targets.repeat(1 + copies)


def _augmented(images: torch.Tensor, config: TrainingConfig, generator) -> torch.Tensor:
    """B x V x 3 x H x W: every view of every frame its own draw."""
    flat = augment(images.reshape(-1, *images.shape[2:]), config.augmentation, generator)
    return flat.reshape(images.shape)


@torch.no_grad()
def _validate(model, features, target, pos_weight):
    model.eval()
    logits = model.head_logits(features)
    loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
    accuracy = float(((logits >= 0) == (target > 0.5)).float().mean()) if len(target) else 0.0
    return float(loss), accuracy


def summary_metrics(result: TrainingResult) -> Dict[str, float]:
    best = result.best
    return {'best_epoch': best.epoch, 'train_loss': best.train_loss,
            'train_accuracy': best.train_accuracy, 'validation_loss': best.validation_loss,
            'validation_accuracy': best.validation_accuracy,
            'train_frames': int(len(result.train_indices)),
            'validation_frames': int(len(result.validation_indices))}
