"""The one-model scorer gives the same numbers as the `evaluate` stage and files them in MLflow."""

from __future__ import annotations

import json
import sys

import pytest

pytestmark = pytest.mark.slow


def test_scores_match_evaluate_and_land_in_the_training_run(pipeline_fork):
    out = pipeline_fork.root / "scores.json"
    result = pipeline_fork.run(sys.executable, "-m", "facial_emotion.evaluation.score_model",
                               "cnn-none-relu", "logreg", "--json", str(out))
    assert "cnn-none-relu" in result.stdout and "test_private" in result.stdout and "trained" in result.stdout
    assert "SYNTHETIC DATA" in result.stderr
    scores = json.loads(out.read_text())
    for name in ("cnn-none-relu", "logreg"):
        evaluated = json.loads((pipeline_fork.root / "reports" / "metrics" / f"{name}.json").read_text())
        for split in ("validation", "test", "test_private"):
            for key in ("accuracy", "macro_f1", "balanced_accuracy"):
                got = scores[name]["scores"][split][key]
                assert got == pytest.approx(evaluated[split][key], abs=1e-6), (name, split, key)

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=pipeline_fork.tracking_uri)
    run = client.get_run(scores["cnn-none-relu"]["run"]["run_id"])
    assert run.data.metrics["test_accuracy"] == pytest.approx(scores["cnn-none-relu"]["scores"]["test"]["accuracy"])


def test_an_unknown_model_is_a_one_line_error(tiny_pipeline):
    result = tiny_pipeline.run(sys.executable, "-m", "facial_emotion.evaluation.score_model", "cnn-nope", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: models/cnn-nope")
