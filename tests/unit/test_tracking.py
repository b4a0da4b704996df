"""MLflow conventions: where runs go, their tags, and failing fast when a server is down."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from facial_emotion import tracking

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_default_uri_is_sqlite_at_the_dvc_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri() == "http://127.0.0.1:5000"


def test_stage_run_tags_params_and_artifact_location(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setenv("DVC_EXP_NAME", "brisk-lark")
    monkeypatch.delenv("DVC_STAGE", raising=False)
    with tracking.stage_run("ingest", {"data": {"source": "auto", "rows": 3}}, "synthetic", "a" * 64,
                            experiment="unit-test") as run:
        run_id = run.info.run_id
    client = mlflow.MlflowClient(tracking.tracking_uri())
    stored = client.get_run(run_id)
    assert stored.info.run_name == "brisk-lark/ingest"
    tags = stored.data.tags
    assert tags["dvc_stage"] == "ingest" and tags["dvc_exp_name"] == "brisk-lark"
    assert tags["data_source"] == "synthetic" and tags["synthetic_data"] == "true" and "SYNTHETIC" in tags["WARNING"]
    assert tags["data_sha256"] == "a" * 64 and tags["git_commit"]
    assert stored.data.params == {"data.source": "auto", "data.rows": "3"}
    experiment = client.get_experiment_by_name("unit-test")
    assert experiment.artifact_location == (tmp_path.resolve() / "mlartifacts").as_uri()


def test_down_server_fails_fast_with_the_uri_named(monkeypatch):
    uri = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    started = time.monotonic()
    with pytest.raises(tracking.TrackingUnavailable, match=uri.replace(".", r"\.")):
        tracking.configure("unit-test")
    assert time.monotonic() - started < 10


def test_a_stage_with_the_server_down_exits_with_one_line(tmp_path):
    uri = f"http://127.0.0.1:{_closed_port()}"
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "stages.preprocess"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": uri})
    assert time.monotonic() - started < 30  # interpreter start-up included; the check itself takes < 10 s
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: MLflow tracking server {uri} does not answer")
    assert "Traceback" not in result.stderr
