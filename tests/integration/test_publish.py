"""Publishing a finished run into docs/results/: the page, the figures and a README with the commit,
the command and each stage's wall time; a synthetic run is refused."""

from __future__ import annotations

import json
import shutil

import pytest

from facial_emotion.report.publish import PublishError, publish


def _run_copy(tiny_pipeline, tmp_path, synthetic: bool):
    run = tmp_path / "run"
    shutil.copytree(tiny_pipeline.root / "reports", run / "reports")
    shutil.copy(tiny_pipeline.root / "mlflow.db", run / "mlflow.db")
    shutil.copytree(tiny_pipeline.root / ".git", run / ".git")
    summary = json.loads((run / "reports" / "ingest_summary.json").read_text())
    summary["synthetic"] = synthetic  # stands in for a real-data run: only the flag differs
    (run / "reports" / "ingest_summary.json").write_text(json.dumps(summary))
    return run


def test_a_synthetic_run_is_not_published(tiny_pipeline, tmp_path):
    with pytest.raises(PublishError, match="SYNTHETIC"):
        publish(_run_copy(tiny_pipeline, tmp_path, synthetic=True), tmp_path / "out", "dvc repro")
    assert not (tmp_path / "out").exists()


def test_published_results_name_commit_command_and_stage_times(tiny_pipeline, tmp_path):
    target = publish(_run_copy(tiny_pipeline, tmp_path, synthetic=False), tmp_path / "out", "dvc repro")
    assert (target / "index.html").read_bytes() == (tiny_pipeline.root / "reports" / "index.html").read_bytes()
    assert (target / "metrics" / "cnn-smote-elu.json").exists() and (target / "leaderboard.json").exists()
    text = (target / "README.md").read_text()
    assert "- command: `dvc repro`" in text and "- commit: `" in text and "cores" in text
    leaderboard = json.loads((target / "leaderboard.json").read_text())
    for row in leaderboard["models"]:
        assert f"| {row['model']} | {row['validation']['accuracy']:.4f} |" in text
    for stage in ("ingest", "preprocess", "train@none-relu", "evaluate", "report"):
        assert f"| {stage} |" in text, f"no wall time for {stage}"
