"""Sweeps at team scale: a queued grid run two at a time against a real `mlflow server` on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """`mlflow server` with a SQLite backend and a folder for artifacts, on 127.0.0.1 only."""
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                break
        except OSError:
            time.sleep(1)
    else:
        process.kill()
        pytest.fail("mlflow server did not answer within 90 s")
    yield uri
    process.terminate()
    process.wait(timeout=30)


def test_queued_grid_lands_every_run_in_the_shared_server(pipeline_fork, mlflow_server):
    pipeline = pipeline_fork
    pipeline.set_params({"variants.cnn-smote-elu": {"learning_rate": 0.001}})  # a key for -S to set
    pipeline.commit("baseline for the sweep")
    pipeline.env["MLFLOW_TRACKING_URI"] = mlflow_server
    try:
        # Values the built pipeline never used: DVC's run-cache would restore those stages without running them.
        # Up to evaluate (the training run and the champion): the report and the demo after it add no run
        # this test looks for, only minutes.
        pipeline.dvc("exp", "run", "--queue", "-S", "variants.cnn-smote-elu.learning_rate=0.0004,0.0006", "evaluate")
        status = pipeline.drain_queue(workers=2, timeout=1200, poll=10)
        assert status.count("Success") == 2, status
        shown = json.loads(pipeline.dvc("exp", "show", "--json").stdout)
    finally:
        pipeline.dvc("queue", "stop", "--kill", check=False)

    experiments = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for revision in exp["revs"]:
                data = revision["data"]
                learning_rate = data["params"]["params.yaml"]["data"]["variants"]["cnn-smote-elu"]["learning_rate"]
                metrics = data["metrics"]["reports/champion.json"]["data"]
                experiments[revision["name"]] = (learning_rate, metrics["validation"]["macro_f1"])
    assert sorted(lr for lr, _ in experiments.values()) == [0.0004, 0.0006]

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("facial-emotion")
    runs = client.search_runs([experiment.experiment_id], max_results=500)
    by_exp = {}
    for run in runs:
        by_exp.setdefault(run.data.tags.get("dvc_exp_name"), []).append(run)
    for name in experiments:
        names = {run.info.run_name for run in by_exp.get(name, [])}
        assert f"{name}/cnn-smote-elu" in names and f"{name}/evaluate" in names, (name, names)
    exps = pipeline.root / ".dvc/tmp/exps"
    assert not exps.exists() or not list(exps.rglob("mlflow.db"))
