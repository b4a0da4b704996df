"""Metrics as small flat dicts (what DVC and MLflow show best) and the first study's text report."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, classification_report, f1_score,
                             precision_recall_fscore_support)

from ..labels import EMOTIONS

HEADLINE = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")


def compute_metrics(y_true: np.ndarray, probabilities: np.ndarray,
                    classes: tuple[str, ...] = EMOTIONS) -> dict[str, float]:
    """accuracy, balanced accuracy, macro / weighted F1 and per-class precision, recall and F1 over `classes`
    (the label set's: probabilities already aligned to them, scoring.align)."""
    y_pred = np.asarray(probabilities).argmax(axis=1)
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    with warnings.catch_warnings():
        # A small split may lack a class the model predicts: expected, and balanced accuracy is still defined.
        warnings.filterwarnings("ignore", "y_pred contains classes not in y_true", UserWarning)
        balanced = float(balanced_accuracy_score(y_true, y_pred)) if len(y_true) else float("nan")
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": balanced,
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "rows": int(len(y_true)),
    }
    for c, name in enumerate(classes):
        metrics[f"precision_{name}"] = float(precision[c])
        metrics[f"recall_{name}"] = float(recall[c])
        metrics[f"f1_{name}"] = float(f1[c])
    return metrics


def study_report(y_true: np.ndarray, probabilities: np.ndarray, digits: int = 2,
                 classes: tuple[str, ...] = EMOTIONS) -> str:
    """The first study's layout: its report ran on one-hot labels, so it lists per-class rows and
    micro, macro, weighted and samples averages. Same call, same layout."""
    eye = np.eye(len(classes), dtype=int)
    y_pred = np.asarray(probabilities).argmax(axis=1)
    return classification_report(eye[y_true], eye[y_pred], target_names=list(classes), digits=digits, zero_division=0)


def confusion_records(y_true: np.ndarray, probabilities: np.ndarray,
                      classes: tuple[str, ...] = EMOTIONS) -> list[dict[str, str]]:
    """One row per sample with actual and predicted names: the input `dvc plots`' confusion template wants."""
    y_pred = np.asarray(probabilities).argmax(axis=1)
    names = np.asarray(classes)
    return [{"actual": a, "predicted": p} for a, p in zip(names[y_true].tolist(), names[y_pred].tolist())]
