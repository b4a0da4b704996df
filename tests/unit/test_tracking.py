"""MLflow conventions: where runs go, their tags, and failing fast when a server is down."""

from __future__ import annotations

import re
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


def test_a_stages_data_is_logged_as_mlflow_inputs_and_its_scores_linked_to_the_model(tmp_path, monkeypatch):
    """What a stage read shows on its run in `mlflow ui` (name, MD5 digest as in dvc.lock, rows,
    context), and evaluate's scores land on the training run's logged model, each tied to the
    dataset it was measured on."""
    import hashlib

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from facial_emotion.evaluation.scoring import log_scores_into_training_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.npz").write_bytes(b"training faces")
    (tmp_path / "data" / "val.npz").write_bytes(b"validation faces")
    train = tracking.DataInput(Path("data/train.npz"), "training", 120)
    val = tracking.DataInput(Path("data/val.npz"), "validation", 30)
    with tracking.stage_run("train@none-relu", experiment="unit-test", inputs=[train, val]) as run:
        model = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
        model_uri = mlflow.sklearn.log_model(model, name="model").model_uri
    client = mlflow.MlflowClient(tracking.tracking_uri())
    inputs = {i.dataset.name: i for i in client.get_run(run.info.run_id).inputs.dataset_inputs}
    assert set(inputs) == {"data/train.npz", "data/val.npz"}
    logged = inputs["data/train.npz"]
    assert logged.dataset.digest == hashlib.md5(b"training faces").hexdigest()
    assert {t.key: t.value for t in logged.tags} == {"mlflow.data.context": "training", "rows": "120"}

    scores = {"validation": {"accuracy": 0.5, "rows": 30}, "validation_ferplus": {"accuracy": 0.6, "rows": 28}}
    assert log_scores_into_training_run(run.info.run_id, "m", scores, model_uri=model_uri,
                                        datasets={"validation": val})
    metrics = {m.key: m for m in client.get_logged_model(tracking.model_id(model_uri)).metrics}
    assert set(metrics) == {"validation_accuracy", "validation_ferplus_accuracy"}
    assert metrics["validation_ferplus_accuracy"].value == 0.6
    assert metrics["validation_accuracy"].dataset_name == "data/val.npz"
    assert metrics["validation_accuracy"].dataset_digest == hashlib.md5(b"validation faces").hexdigest()


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


def _failed_request(uri: str, monkeypatch) -> Exception:
    """The exception MLflow's own client raises for a run lookup at `uri`, with no retries (as configure sets)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(mlflow.exceptions.MlflowException) as caught:
        mlflow.MlflowClient(uri).get_run("0" * 32)
    return caught.value


def test_server_gone_mid_stage_is_one_line_naming_server_and_call(monkeypatch):
    uri = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    failure = tracking.tracking_failure(_failed_request(uri, monkeypatch))
    assert isinstance(failure, tracking.TrackingUnavailable)
    message = str(failure)
    assert "\n" not in message and message.startswith(f"MLflow tracking server {uri} stopped answering")
    assert "Connection refused on runs/get" in message and "rerun" in message


def test_server_up_but_its_database_down_is_one_line_with_the_status(monkeypatch):
    """What `mlflow server` answers while PostgreSQL is stopped: 503 to every store call."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Unavailable(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        message = str(tracking.tracking_failure(_failed_request(uri, monkeypatch)))
    finally:
        server.shutdown()
        server.server_close()
    assert "\n" not in message and f"{uri} answered HTTP 503 to runs/get" in message and "database" in message


def test_other_errors_are_not_called_tracking_failures(monkeypatch, tmp_path):
    uri = f"http://127.0.0.1:{_closed_port()}"
    refused = _failed_request(uri, monkeypatch)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert tracking.tracking_failure(mlflow.exceptions.MlflowException("Invalid value for param")) is None
    assert tracking.tracking_failure(ValueError("API request to http://x failed with exception y")) is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")  # no server to blame
    assert tracking.tracking_failure(refused) is None


def test_a_run_lookup_on_a_down_server_is_not_taken_for_a_missing_run(monkeypatch):
    """Resuming training asks whether its run is still there; a down server must not answer 'no'."""
    uri = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)  # what configure() does in a stage; earlier tests pointed MLflow elsewhere
    try:
        with pytest.raises(mlflow.exceptions.MlflowException) as caught:
            tracking.client_for_run("0" * 32, "cnn-none-relu")
        assert tracking.tracking_failure(caught.value) is not None
    finally:
        mlflow.set_tracking_uri(previous)  # (it also sets MLFLOW_TRACKING_URI; monkeypatch restores that after)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_the_commit_is_dirty_for_changed_code_or_params_not_for_the_pipelines_own_outputs(tmp_path):
    for name in ("dvc.lock", "reports/metrics/cnn.json", "params.yaml", "facial_emotion/x.py", "sub/reports/a"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("0\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "first")
    head = tracking.git_commit(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", head)
    (tmp_path / "dvc.lock").write_text("1\n")  # what every `dvc repro` does
    (tmp_path / "reports" / "metrics" / "cnn.json").write_text("1\n")
    (tmp_path / "reports" / "new.json").write_text("untracked\n")
    assert tracking.git_commit(tmp_path) == head
    assert tracking.git_commit(tmp_path / "facial_emotion") == head  # from a subfolder too
    for name in ("params.yaml", "facial_emotion/x.py", "sub/reports/a"):
        (tmp_path / name).write_text("1\n")
        assert tracking.git_commit(tmp_path) == head + "-dirty", name
        _git(tmp_path, "checkout", "--", name)
    assert tracking.git_commit(tmp_path / "facial_emotion") == head
    (tmp_path / "params.yaml").write_text("1\n")
    assert tracking.git_commit(tmp_path / "facial_emotion") == head + "-dirty"


def test_outside_git_the_commit_is_unknown(tmp_path):
    assert tracking.git_commit(tmp_path) == "unknown"
