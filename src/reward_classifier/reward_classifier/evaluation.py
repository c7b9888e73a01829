"""How good a classifier is, and where it is wrong: metrics at a threshold, a threshold sweep
with its precision/recall curve, and the most confident false positives — the frames a policy
would learn to produce to collect reward without succeeding."""
import dataclasses
from pathlib import Path
from typing import Dict, List

import numpy as np


@dataclasses.dataclass(frozen=True)
class BinaryMetrics:
    threshold: float
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int

    @property
    def total(self) -> int:
        return self.true_positives + self.false_positives + self.true_negatives + \
            self.false_negatives

    @property
    def accuracy(self) -> float:
        return (self.true_positives + self.true_negatives) / self.total if self.total else 0.0

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> Dict:
        return {'threshold': self.threshold, 'accuracy': self.accuracy,
                'precision': self.precision, 'recall': self.recall, 'f1': self.f1,
                'confusion_matrix': {'true_positives': self.true_positives,
                                     'false_positives': self.false_positives,
                                     'true_negatives': self.true_negatives,
                                     'false_negatives': self.false_negatives},
                'frames': self.total}

    def report(self) -> str:
        return '\n'.join([
            f'threshold {self.threshold:.3f}: accuracy {self.accuracy:.4f}  '
            f'precision {self.precision:.4f}  recall {self.recall:.4f}  f1 {self.f1:.4f}  '
            f'({self.total} frames)',
            'confusion matrix      predicted success  predicted failure',
            f'  labelled success    {self.true_positives:17d}  {self.false_negatives:17d}',
            f'  labelled failure    {self.false_positives:17d}  {self.true_negatives:17d}'])


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray,
                   threshold: float) -> BinaryMetrics:
    actual = np.asarray(labels).astype(bool)
    predicted = np.asarray(probabilities) >= threshold
    return BinaryMetrics(float(threshold),
                         int(np.sum(predicted & actual)), int(np.sum(predicted & ~actual)),
                         int(np.sum(~predicted & ~actual)), int(np.sum(~predicted & actual)))


def threshold_sweep(labels, probabilities, steps: int = 101) -> List[BinaryMetrics]:
    return [binary_metrics(labels, probabilities, t) for t in np.linspace(0.0, 1.0, steps)]


def best_f1(sweep: List[BinaryMetrics]) -> BinaryMetrics:
    return max(sweep, key=lambda m: (m.f1, m.threshold))


def most_precise_with_recall(sweep: List[BinaryMetrics], min_recall: float) -> BinaryMetrics:
    """The threshold with the fewest false positives that still finds `min_recall` of the
    successes: false positives are what the policy exploits, missed successes only slow it."""
    candidates = [m for m in sweep if m.recall >= min_recall] or sweep
    return max(candidates, key=lambda m: (m.precision, m.threshold))


def worst_false_positives(labels, probabilities, threshold: float, count: int) -> np.ndarray:
    """Indices of labelled failures scored at/above the threshold, most confident first."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities)
    candidates = np.flatnonzero((labels == 0) & (probabilities >= threshold))
    return candidates[np.argsort(-probabilities[candidates], kind='stable')][:count]


def plot_precision_recall(sweep: List[BinaryMetrics], chosen: BinaryMetrics, path) -> Path:
    """Precision and recall against the threshold, and precision against recall, as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    thresholds = [m.threshold for m in sweep]
    precision = [m.precision for m in sweep]
    recall = [m.recall for m in sweep]
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4))
    left.plot(thresholds, precision, label='precision')
    left.plot(thresholds, recall, label='recall')
    left.axvline(chosen.threshold, color='grey', linestyle='--',
                 label=f'threshold {chosen.threshold:.2f}')
    left.set_xlabel('threshold')
    left.set_ylim(0, 1.02)
    left.legend(loc='lower left')
    left.set_title('precision / recall by threshold')
    right.plot(recall, precision, marker='.')
    right.plot([chosen.recall], [chosen.precision], 'o', color='red')
    right.set_xlabel('recall')
    right.set_ylabel('precision')
    right.set_xlim(0, 1.02)
    right.set_ylim(0, 1.02)
    right.set_title('precision-recall curve')
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
