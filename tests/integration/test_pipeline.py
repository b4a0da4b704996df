"""The real pipeline end to end: `dvc repro` in a temp copy, a real SQLite MLflow store."""

from __future__ import annotations

import json
import re

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.slow

CNNS = [f"cnn-{b}-{a}" for b in ("none", "class_weight", "smote") for a in ("relu", "elu")]


def _runs(pipeline):
    mlflow.set_tracking_uri(pipeline.tracking_uri)
    experiment = mlflow.get_experiment_by_name("facial-emotion")
    return MlflowClient(pipeline.tracking_uri).search_runs([experiment.experiment_id], max_results=1000)


def test_outputs_exist_and_say_synthetic(tiny_pipeline):
    root = tiny_pipeline.root
    summary = json.loads((root / "reports/ingest_summary.json").read_text())
    assert summary["source"] == "synthetic" and summary["synthetic"] is True
    assert "SYNTHETIC" in summary["warning"]
    assert "SYNTHETIC" in tiny_pipeline.first_repro_output
    for name in CNNS:
        folder = root / "models" / name
        assert (folder / "model.keras").is_file() and (folder / "history.csv").is_file()
        assert json.loads((folder / "mlflow_run.json").read_text())["run_id"]
    for name in ("logreg", "svm"):
        assert (root / "models" / name / "model.skops").is_file()
    for name in CNNS + ["logreg", "svm"]:
        metrics = json.loads((root / "reports/metrics" / f"{name}.json").read_text())
        assert 0 <= metrics["validation"]["macro_f1"] <= 1 and "f1_disgust" in metrics["test"]
    assert json.loads((root / "reports/champion.json").read_text())["synthetic"] is True


def test_every_stage_run_is_in_mlflow_with_tags(tiny_pipeline):
    runs = _runs(tiny_pipeline)
    stages = {run.data.tags["dvc_stage"] for run in runs}
    expected = {"ingest", "preprocess", "balance", "teach", "evaluate", "baseline@logreg", "baseline@svm"}
    expected |= {f"train@{b}-{a}" for b in ("none", "class_weight", "smote") for a in ("relu", "elu")}
    assert expected <= stages
    made = tiny_pipeline.run("git", "rev-list", "--max-parents=0", "HEAD").stdout.strip()  # the copy's first commit
    for run in runs:
        tags = run.data.tags
        # the copy is committed before `dvc repro`, which rewrites only its own outputs: never "-dirty"
        assert tags["git_commit"] == made, (tags["dvc_stage"], tags["git_commit"])
        assert tags["data_source"] == "synthetic" and tags["synthetic_data"] == "true"
        assert re.fullmatch(r"[0-9a-f]{64}", tags["data_sha256"])
    trained = {run.data.tags.get("model_name"): run for run in runs if run.data.tags.get("model_name")}
    run = trained["cnn-smote-elu"]
    assert run.data.params["train.learning_rate"] == "0.001" and run.data.params["balance"] == "smote"
    assert "val_accuracy" in run.data.metrics and "validation_macro_f1" in run.data.metrics


def test_champion_is_registered_and_loads_by_alias(tiny_pipeline):
    champion = json.loads((tiny_pipeline.root / "reports/champion.json").read_text())
    mlflow.set_tracking_uri(tiny_pipeline.tracking_uri)
    mlflow.set_registry_uri(tiny_pipeline.tracking_uri)
    version = MlflowClient().get_model_version_by_alias("facial-emotion", "champion")
    assert str(version.version) == champion["version"]
    model = mlflow.pyfunc.load_model("models:/facial-emotion@champion")
    faces = np.random.default_rng(0).integers(0, 256, size=(5, 48, 48, 1), dtype=np.uint8)
    probabilities = np.asarray(model.predict(faces))
    assert probabilities.shape == (5, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-4)


def test_the_built_pipeline_is_up_to_date(tiny_pipeline):
    assert tiny_pipeline.changes() == ""  # git clean and `dvc status` up to date: a rerun would run nothing


def test_forced_evaluate_adds_no_registry_version(pipeline_fork):
    client = MlflowClient(pipeline_fork.tracking_uri, registry_uri=pipeline_fork.tracking_uri)
    before = len(client.search_model_versions("name='facial-emotion'"))
    pipeline_fork.dvc("repro", "--force", "--single-item", "evaluate")
    assert len(client.search_model_versions("name='facial-emotion'")) == before


def test_changing_one_variant_reruns_only_that_variant(pipeline_fork):
    pipeline_fork.set_params({"variants.cnn-smote-elu": {"learning_rate": 0.002}})
    result = pipeline_fork.dvc("repro", "evaluate")  # the training stages' fan-in; report and demo come after
    ran = set(re.findall(r"Running stage '([^']+)'", result.stdout + result.stderr))
    assert "train@smote-elu" in ran
    assert not {s for s in ran if s.startswith(("train@", "baseline@"))} - {"train@smote-elu"}
    assert not ran & {"ingest", "preprocess", "balance"}
    assert "up to date" in pipeline_fork.dvc("status", "--with-deps", "evaluate").stdout  # and what ran is recorded


def test_an_edit_reruns_only_the_stages_that_run_the_module(pipeline_fork):
    """dvc.yaml's deps are file by file (tests/support/dvc_deps.py): rewording a params error or
    the stop-with-dvc code leaves every stage up to date; an edit to the synthetic faces' generator
    changes ingest's deps alone (what follows from ingest reruns only if its outputs change)."""
    edited = ("facial_emotion/params/messages.py", "facial_emotion/lifeline.py", "facial_emotion/data/synthetic.py")
    for module in edited:
        path = pipeline_fork.root / module
        path.write_text(path.read_text() + "\n# edited\n")
    changed = json.loads(pipeline_fork.dvc("status", "--json").stdout)
    assert set(changed) == {"ingest"}, changed
    assert changed["ingest"] == [{"changed deps": {"facial_emotion/data/synthetic.py": "modified"}}], changed
