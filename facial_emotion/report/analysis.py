"""The numbers behind a model's classification report, from its probabilities (numpy, scikit-learn).

Everything is recomputed from reports/predictions/<model>.npz and checked against the metrics JSON,
so the page and `dvc metrics show` cannot silently disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import classification_report, confusion_matrix

from ..labels import EMOTIONS
from .inputs import ReportError

_TOLERANCE = 1e-6  # the metrics JSON holds float64 from the same float32 probabilities


def classification_table(y_true: np.ndarray, probabilities: np.ndarray,
                         classes: tuple[str, ...] = EMOTIONS) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, then accuracy, macro and weighted averages."""
    y_pred = np.asarray(probabilities).argmax(axis=1)
    report = classification_report(y_true, y_pred, labels=list(range(len(classes))), target_names=list(classes),
                                   output_dict=True, zero_division=0)
    rows = {name: report[name] for name in classes}
    total = int(len(y_true))
    accuracy = float(np.mean(y_pred == y_true)) if total else float("nan")
    rows["accuracy"] = {"precision": np.nan, "recall": np.nan, "f1-score": accuracy, "support": total}
    rows["macro avg"] = report["macro avg"]
    rows["weighted avg"] = report["weighted avg"]
    table = pd.DataFrame.from_dict(rows, orient="index")[["precision", "recall", "f1-score", "support"]]
    table["support"] = table["support"].astype(int)
    return table


def check_matches_metrics(table: pd.DataFrame, metrics: dict[str, float], metrics_path: str, split: str,
                          predictions_path: str) -> None:
    """ReportError when the metrics JSON was not computed from these predictions (stale outputs)."""
    recomputed = {"accuracy": table.loc["accuracy", "f1-score"], "macro_f1": table.loc["macro avg", "f1-score"],
                  "weighted_f1": table.loc["weighted avg", "f1-score"]}
    for key, value in recomputed.items():
        if key in metrics and not abs(float(metrics[key]) - float(value)) <= _TOLERANCE:
            raise ReportError(f"{metrics_path}: {split}.{key} is {metrics[key]:.6f} but {predictions_path} gives "
                              f"{value:.6f}; the files are out of step, run dvc repro evaluate")


def normalised_confusion(y_true: np.ndarray, probabilities: np.ndarray,
                         classes: tuple[str, ...] = EMOTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised confusion matrix (each row: where that true class went; the diagonal is recall)
    and the raw counts. A class absent from `y_true` gets a row of zeros."""
    y_pred = np.asarray(probabilities).argmax(axis=1)
    counts = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
    support = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, support, out=np.zeros(counts.shape, dtype=np.float64), where=support > 0)
    return normalised, counts


def confident_mistakes(y_true: np.ndarray, probabilities: np.ndarray, n: int) -> np.ndarray:
    """Row indices of the `n` wrong predictions made with the highest confidence (ties: lower row first)."""
    probabilities = np.asarray(probabilities)
    y_pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    confidence = probabilities[wrong, y_pred[wrong]]
    order = np.argsort(-confidence, kind="stable")
    return wrong[order[: max(0, int(n))]]


def mistake_caption(index: int, y_true: np.ndarray, probabilities: np.ndarray,
                    classes: tuple[str, ...] = EMOTIONS) -> str:
    """`#row`, the true class and the predicted one with its probability, under a face."""
    predicted = int(np.argmax(probabilities[index]))
    percent = math.floor(100 * float(probabilities[index, predicted]) + 1e-6)  # rounded down: 0.997 is not "100%"
    return f"#{index}\ntrue {classes[int(y_true[index])]}\nsaid {classes[predicted]} {percent}%"


@dataclass(frozen=True)
class Reliability:
    """Top-label calibration: is a prediction made with confidence c right about c of the time?"""

    bin_edges: np.ndarray  # [n_bins + 1], uniform on [0, 1]
    counts: np.ndarray  # predictions per bin [n_bins]
    mean_confidence: np.ndarray  # per non-empty bin, ascending (sklearn's prob_pred)
    accuracy: np.ndarray  # per non-empty bin (sklearn's prob_true)
    ece: float  # expected calibration error: count-weighted mean |accuracy - confidence|
    overall_accuracy: float
    overall_confidence: float


def reliability(y_true: np.ndarray, probabilities: np.ndarray, n_bins: int = 10) -> Reliability:
    """Confidence (the top probability) against correctness, in `n_bins` uniform bins."""
    if n_bins < 1:
        raise ReportError(f"params.yaml: report.calibration_bins must be at least 1, got {n_bins}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = np.clip(probabilities.max(axis=1), 0.0, 1.0)  # float32 sums can land a hair above 1
    correct = (probabilities.argmax(axis=1) == y_true).astype(int)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    if not len(correct):
        empty = np.zeros(0)
        return Reliability(edges, np.zeros(n_bins, dtype=int), empty, empty, float("nan"), float("nan"), float("nan"))
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=n_bins, strategy="uniform")
    # Same binning as calibration_curve, to count predictions per bin (it returns non-empty bins only).
    bins = np.searchsorted(edges[1:-1], confidence)
    counts = np.bincount(bins, minlength=n_bins)
    ece = float(np.sum(counts[counts > 0] * np.abs(accuracy - mean_confidence)) / len(correct))
    return Reliability(edges, counts, mean_confidence, accuracy, ece, float(correct.mean()), float(confidence.mean()))


def kept_epoch(history: pd.DataFrame, run_info: dict | None) -> int | None:
    """The epoch whose weights were kept: the training run's own record (`kept_epoch`; older runs
    recorded only `best_epoch`, which was the kept one), else the best val_accuracy."""
    info = run_info or {}
    recorded = info.get("kept_epoch", info.get("best_epoch"))
    if isinstance(recorded, (int, float)) and not isinstance(recorded, bool):
        return int(recorded)
    if history.empty or history["val_accuracy"].isna().all():
        return None
    return int(history.loc[history["val_accuracy"].idxmax(), "epoch"])


def per_class_f1(metrics: dict[str, float], classes: tuple[str, ...] = EMOTIONS) -> np.ndarray:
    """F1 per class in label order from a metrics section (`f1_<emotion>`; NaN when absent)."""
    return np.array([float(metrics.get(f"f1_{name}", np.nan)) for name in classes])


def label_set_table(metrics: dict[str, dict], primary: str) -> pd.DataFrame:
    """The model's headline scores on every label set the data has (rows: label set and split):
    FER2013's single labels and FER+'s majority, whichever it was trained on."""
    from ..evaluation.metrics import HEADLINE
    from ..evaluation.label_scores import by_label_set

    rows = {(f"{label_set}{' (trained on)' if label_set == primary else ''}", split):
            {**{k: values[k] for k in HEADLINE}, "faces": int(values.get("rows", 0))}
            for label_set, splits in by_label_set(metrics, primary).items() for split, values in splits.items()}
    return pd.DataFrame.from_dict(rows, orient="index")
