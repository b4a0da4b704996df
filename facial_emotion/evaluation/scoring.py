"""Scoring models on validation and test against every label set the data has, and filing the
scores with the run that trained each model. Shared by the `evaluate` stage and the one-model
scorer (score_model).

A model's scores: `validation`, `test` (and `test_private`) on the label set it was trained for
(`labels.source`, the one the champion is chosen by), and the same splits suffixed with each other
label set's name (`test_ferplus`, `test_fer2013`). A 7-class model meets FER+'s contempt faces as
mistakes; an 8-class model is scored on FER2013's labels by its seven shared classes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.dataset import FaceDataset
from ..data.label_sets import LabelSet, label_sets
from ..tracking import client_for_run, model_id
from .label_scores import align, split_name
from .metrics import compute_metrics

log = logging.getLogger(__name__)

def _metrics(subset: LabelSet, probabilities: np.ndarray, rows: np.ndarray | None = None) -> dict[str, float]:
    index, labels = subset.index, subset.labels
    if rows is not None:
        keep = rows[index]
        index, labels = index[keep], labels[keep]
    return compute_metrics(labels, align(probabilities[index], subset.classes), subset.classes)


def score(p_val: np.ndarray, val: FaceDataset, p_test: np.ndarray, test: FaceDataset,
          primary: str = "fer2013") -> dict[str, dict[str, float]]:
    """Metrics on validation and test for every label set, and on PrivateTest alone when the test
    split holds it beside PublicTest (the challenge split's test is PrivateTest alone: the same
    figures twice would mislead)."""
    result: dict[str, dict[str, float]] = {}
    val_sets, test_sets = label_sets(val), label_sets(test)
    private = test.usage == "PrivateTest"
    for name in sorted(test_sets, key=lambda n: n != primary):
        result[split_name("validation", name, primary)] = _metrics(val_sets[name], p_val)
        result[split_name("test", name, primary)] = _metrics(test_sets[name], p_test)
        if private.any() and not private.all():
            result[split_name("test_private", name, primary)] = _metrics(test_sets[name], p_test, private)
    return result


@dataclass
class Scored:
    """Every model's scores, its validation and test probabilities, and its model folder's run info."""

    metrics: dict[str, dict] = field(default_factory=dict)
    probabilities: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    run_infos: dict[str, dict] = field(default_factory=dict)


def score_models(names: list[str], val: FaceDataset, test: FaceDataset, tta_flip: bool,
                 primary: str = "fer2013") -> Scored:
    """Every named model folder on validation and test (averaged with the mirror image under `tta_flip`)."""
    from ..models.store import flip_averaged, load_predictor, model_dir, read_run_info

    scored = Scored()
    for name in names:
        folder = model_dir(name)
        scored.run_infos[name] = read_run_info(folder)
        predict = flip_averaged(load_predictor(folder), tta_flip)
        p_val, p_test = predict(val.images), predict(test.images)
        scored.probabilities[name] = (p_val, p_test)
        scored.metrics[name] = score(p_val, val, p_test, test, primary)
        log.info("%-24s validation %s", name, headline(scored.metrics[name]))
    return scored


def headline(metrics: dict[str, dict]) -> str:
    """The validation figures the champion is chosen by, on one line."""
    from .metrics import HEADLINE

    return "  ".join(f"{k} {metrics['validation'][k]:.4f}" for k in HEADLINE)


def log_scores_into_training_run(run_id: str | None, name: str, scores: dict, report_path: Path | None = None,
                                 model_uri: str | None = None, datasets: dict | None = None) -> bool:
    """Evaluation lands in the run that trained the model, each score linked to the logged model
    (`model_uri`: its page in `mlflow ui` shows them) and to the dataset it was measured on
    (`datasets`: tracking.DataInput by split, `validation` or `test`); False when that run is gone."""
    from mlflow.entities import Metric

    client = client_for_run(run_id, name)
    if client is None:
        return False
    now, linked_model, datasets = int(time.time() * 1000), model_id(model_uri), datasets or {}

    def metric(split: str, key: str, value: float) -> Metric:
        data = datasets.get(split.split("_")[0])  # validation_ferplus: the validation file, other labels
        return Metric(f"{split}_{key}", float(value), now, 0, model_id=linked_model,
                      dataset_name=str(data.path) if data else None, dataset_digest=data.digest if data else None)

    batch = [metric(split, k, v) for split, values in scores.items() for k, v in values.items() if k != "rows"]
    for start in range(0, len(batch), 500):
        client.log_batch(run_id, metrics=batch[start:start + 500])
    if report_path is not None:
        client.log_artifact(run_id, str(report_path), artifact_path="evaluation")
    return True
