"""Read what evaluate and train left for one model, checking it fits together before anything is drawn.

Why the checks: the report joins files written by different stages (metrics, predictions, the test
faces, training history). A stale or hand-edited one would otherwise give a plausible-looking but
wrong page; instead the stage fails with one line naming the file and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PipelineError
from ..evaluation.metrics import HEADLINE
from ..files import read_json, read_npz
from ..labels import EMOTIONS, LABEL_SOURCES

SPLITS = ("validation", "test")
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")


class ReportError(PipelineError, ValueError):
    """An input of the report is missing, malformed or out of step with another one."""


@dataclass(frozen=True)
class Predictions:
    """A model's class probabilities and the true labels, per split, in the split files' row order."""

    probabilities: dict[str, np.ndarray]  # split -> float [n, k] over `classes`
    labels: dict[str, np.ndarray]  # split -> int [n]
    classes: tuple[str, ...] = EMOTIONS  # the label set's classes (7 FER2013, 8 FER+)
    label_set: str = "fer2013"  # which labels: data/label_sets.py
    test_index: np.ndarray | None = None  # the test faces scored, as rows of data/processed/test.npz


def load_metrics(path: str | Path) -> dict[str, dict[str, float]]:
    """reports/metrics/<model>.json with the headline figures for validation and test."""
    data = _read_json(path)
    for split in SPLITS:
        values = data.get(split) if isinstance(data, dict) else None
        if not isinstance(values, dict):
            raise ReportError(f"{path}: missing '{split}' section; run dvc repro evaluate")
        missing = [k for k in HEADLINE if not isinstance(values.get(k), (int, float))]
        if missing:
            raise ReportError(f"{path}: {split}.{missing[0]} is missing or not a number")
    return data


def load_predictions(path: str | Path) -> Predictions:
    """reports/predictions/<model>.npz: probabilities [n, k] and labels [n] for validation and test, over
    the label set's classes."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: not found; run dvc repro evaluate")
    arrays = read_npz(path)
    classes = tuple(str(c) for c in arrays["classes"]) if "classes" in arrays else EMOTIONS
    label_set = str(arrays["label_set"]) if "label_set" in arrays else "fer2013"
    if label_set not in LABEL_SOURCES:
        raise ReportError(f"{path}: label_set {label_set!r} is none of {', '.join(LABEL_SOURCES)}")
    k = len(classes)
    probabilities, labels = {}, {}
    for split in SPLITS:
        for key in (split, f"{split}_labels"):
            if key not in arrays:
                raise ReportError(f"{path}: missing array '{key}'")
        p, y = np.asarray(arrays[split], dtype=np.float64), np.asarray(arrays[f"{split}_labels"])
        if p.ndim != 2 or p.shape[1] != k:
            raise ReportError(f"{path}: '{split}' has shape {p.shape}, expected [n, {k}] (its {k} classes)")
        if y.shape != (len(p),):
            raise ReportError(f"{path}: '{split}_labels' has {y.size} labels for {len(p)} rows")
        if not np.isfinite(p).all():
            raise ReportError(f"{path}: '{split}' holds NaN or infinite probabilities")
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise ReportError(f"{path}: '{split}_labels' has labels outside 0..{k - 1}")
        probabilities[split], labels[split] = p, y.astype(np.int64)
    test_index = np.asarray(arrays["test_index"], dtype=np.int64) if "test_index" in arrays else None
    return Predictions(probabilities, labels, classes, label_set, test_index)


def check_same_rows(labels: np.ndarray, reference: np.ndarray, path: str | Path, reference_path: str | Path) -> None:
    """The predictions' test labels must be the test faces' labels, row for row (else stale files)."""
    if len(labels) != len(reference) or not np.array_equal(labels, reference):
        raise ReportError(f"{path}: test labels differ from {reference_path} ({len(labels)} vs {len(reference)} rows); "
                          "the predictions are stale, run dvc repro evaluate")


def scored_test_faces(predictions: Predictions, test, path: str | Path, test_path: str | Path) -> np.ndarray:
    """The images of the test faces the predictions score (their label set's faces), after checking
    that the labels match those faces' labels row for row."""
    from ..data.label_sets import label_sets

    sets = label_sets(test)
    if predictions.label_set not in sets:
        raise ReportError(f"{path}: scored on {predictions.label_set} labels, which {test_path} does not have; "
                          "the predictions are stale, run dvc repro evaluate")
    subset = sets[predictions.label_set]
    check_same_rows(predictions.labels["test"], subset.labels, path, test_path)
    if predictions.test_index is not None and not np.array_equal(predictions.test_index, subset.index):
        raise ReportError(f"{path}: test rows differ from {test_path}'s {predictions.label_set} faces; "
                          "the predictions are stale, run dvc repro evaluate")
    return test.images[subset.index]


def load_history(path: str | Path) -> pd.DataFrame | None:
    """models/<model>/history.csv (CNNs only); None when the model has none."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        history = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not a readable CSV ({type(exc).__name__})") from None
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ReportError(f"{path}: missing column '{missing[0]}' (has {', '.join(map(str, history.columns))})")
    return history.sort_values("epoch", kind="stable").reset_index(drop=True)


def load_optional_json(path: str | Path) -> dict[str, Any] | None:
    """A JSON object that may legitimately be absent (a model's run info, the ingest summary)."""
    path = Path(path)
    if not path.is_file():
        return None
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object")
    return data


def _read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: not found; run dvc repro evaluate")
    try:
        return read_json(path)
    except ValueError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
