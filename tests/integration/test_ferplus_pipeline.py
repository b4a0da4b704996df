"""FER+ labels through the real pipeline: `dvc repro` with `labels.source: ferplus` on the tiny
synthetic data (synthetic faces get synthetic votes), 8-class models through evaluate, export,
report and demo, every model scored on both label sets."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def _json(root, name):
    return json.loads((root / name).read_text())


def test_fer2013_models_are_also_scored_on_ferplus_labels(tiny_pipeline):
    root = tiny_pipeline.root
    assert _json(root, "reports/ingest_summary.json")["ferplus"]["no_majority_label"]  # synthetic votes, counted
    metrics = _json(root, "reports/metrics/cnn-none-relu.json")
    assert "f1_contempt" not in metrics["test"] and "f1_contempt" in metrics["test_ferplus"]
    assert _json(root, "reports/leaderboard.json")["labels"] == "fer2013"
    index = (root / "reports/index.html").read_text()
    assert "test (FER+ majority labels)" in index


def test_ferplus_trains_eight_class_models_scored_on_both_label_sets(pipeline_fork):
    root = pipeline_fork.root
    pipeline_fork.set_params({"labels.source": "ferplus", "split.strategy": "challenge"})
    pipeline_fork.dvc("repro")

    split = _json(root, "reports/split_summary.json")
    assert split["labels"]["source"] == "ferplus" and split["labels"]["training_faces_left_out"] > 0
    counted = split["labels"]["label_sets"]  # each set's faces counted by its own classes
    assert "contempt" in counted["ferplus"]["train"]["by_class"]
    assert "contempt" not in counted["fer2013"]["val"]["by_class"]
    assert sum(counted["ferplus"]["test"]["by_class"].values()) == counted["ferplus"]["test"]["faces"]
    for name in ("cnn-none-relu", "cnn-smote-elu", "logreg"):
        metrics = _json(root, f"reports/metrics/{name}.json")
        assert "f1_contempt" in metrics["test"], name  # 8 classes, scored on FER+ majority
        assert "f1_contempt" not in metrics["test_fer2013"], name  # and on FER2013's seven
        assert metrics["test"]["rows"] < metrics["test_fer2013"]["rows"]  # faces without a majority left out
    champion = _json(root, "reports/champion.json")
    assert champion["labels"] == "ferplus"

    mlflow.set_tracking_uri(pipeline_fork.tracking_uri)
    mlflow.set_registry_uri(pipeline_fork.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/facial-emotion@champion")
    faces = np.random.default_rng(0).integers(0, 256, size=(3, 48, 48, 1), dtype=np.uint8)
    assert np.asarray(model.predict(faces)).shape == (3, 8)
    run = MlflowClient(pipeline_fork.tracking_uri).get_run(
        _json(root, "models/cnn-none-relu/mlflow_run.json")["run_id"])
    assert run.data.tags["labels"] == "ferplus" and run.data.tags["classes"].endswith("contempt")

    index = (root / "reports/index.html").read_text()
    assert "validation (FER+ majority labels)" in index and "test (FER2013 labels)" in index and "contempt" in index
    page = (root / "reports/html/cnn-none-relu.html").read_text()
    assert "Scores on every label set" in page and "contempt" in page
    demo = next((root / "reports/demo").glob("*.json"))
    assert demo.stat().st_size > 0


def test_fer2013_models_learn_ferplus_votes_as_a_second_target(pipeline_fork):
    """`labels.ferplus_mix`: a 7-class model trained on FER2013's labels blended with the votes; the
    votes travel with SMOTE's and the flips' faces (SMOTE's new faces vote for their class)."""
    from facial_emotion.data.dataset import FaceDataset

    root = pipeline_fork.root
    pipeline_fork.set_params({"labels.ferplus_mix": 0.5})
    result = pipeline_fork.dvc("repro", "train@smote-relu")

    assert "FER+ votes mixed in at 0.5" in result.stdout + result.stderr
    smote = FaceDataset.load(root / "data/balanced/smote/train.npz")
    assert smote.has_votes and len(smote.votes) == len(smote)
    new = smote.rows < 0  # SMOTE's synthetic faces: all ten votes for their FER2013 class
    assert new.any() and (smote.votes[new].argmax(axis=1) == smote.labels[new]).all()
    assert (smote.votes[new].max(axis=1) == 10).all()
    run = MlflowClient(pipeline_fork.tracking_uri).get_run(
        _json(root, "models/cnn-smote-relu/mlflow_run.json")["run_id"])
    assert run.data.tags["labels"] == "fer2013" and not run.data.tags["classes"].endswith("contempt")
    assert run.data.params["labels.ferplus_mix"] == "0.5"
