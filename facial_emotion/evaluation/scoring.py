"""Scoring a model's probabilities on validation and test, and filing the scores with the run that
trained the model. Shared by the `evaluate` stage and the one-model scorer (score_model)."""

from __future__ import annotations

import time
from pathlib import Path

from ..data.dataset import FaceDataset
from ..tracking import client_for_run
from .metrics import compute_metrics


def score(y_val, p_val, test: FaceDataset, p_test) -> dict[str, dict[str, float]]:
    """Metrics on validation and test, and on PrivateTest alone when the test split holds it beside
    PublicTest (the challenge split's test is PrivateTest alone: the same figures twice would mislead)."""
    result = {"validation": compute_metrics(y_val, p_val), "test": compute_metrics(test.labels, p_test)}
    private = test.usage == "PrivateTest"
    if private.any() and not private.all():
        result["test_private"] = compute_metrics(test.labels[private], p_test[private])
    return result


def tta(predict, enabled: bool):
    """Average over the face and its mirror image when `evaluate.tta_flip` is on."""
    if not enabled:
        return predict
    return lambda images: (predict(images) + predict(images[:, :, ::-1])) / 2


def log_scores_into_training_run(run_id: str | None, name: str, scores: dict, report_path: Path | None = None) -> bool:
    """Evaluation lands in the run that trained the model; False when that run is gone."""
    from mlflow.entities import Metric

    client = client_for_run(run_id, name)
    if client is None:
        return False
    now = int(time.time() * 1000)
    batch = [Metric(f"{split}_{k}", float(v), now, 0)
             for split, values in scores.items() for k, v in values.items() if k != "rows"]
    for start in range(0, len(batch), 500):
        client.log_batch(run_id, metrics=batch[start:start + 500])
    if report_path is not None:
        client.log_artifact(run_id, str(report_path), artifact_path="evaluation")
    return True
