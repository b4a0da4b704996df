"""A training stage killed with SIGKILL mid-run continues from its last finished epoch on the next
`dvc repro`, in the same MLflow run, and ends bit-identical to a run that was never stopped.

Both runs start from copies of the session's built tiny pipeline, so only the training stage runs
(ingest, preprocess and balance are its, already up to date)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest


pytestmark = pytest.mark.slow

PARAMS = {"train.epochs": 4, "train.deterministic": True}
STAGE = "train@none-relu"


def _weights(path: Path) -> list[np.ndarray]:
    from facial_emotion.models.store import load_keras_model

    return load_keras_model(path).get_weights()


def _kill_after_snapshot(copy, snapshot: str, timeout: float = 900) -> None:
    """Start `dvc repro STAGE`, wait until the stage has written `snapshot`, then SIGKILL the whole group."""
    dvc = str(Path(sys.executable).parent / "dvc")
    proc = subprocess.Popen([dvc, "repro", STAGE], cwd=copy.root, env=copy.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    target = copy.root / ".state" / "train" / "cnn-none-relu" / snapshot
    deadline = time.monotonic() + timeout
    try:
        while not target.exists():
            assert proc.poll() is None, f"dvc repro ended (exit {proc.returncode}) before {target} was written"
            assert time.monotonic() < deadline, f"no {target} after {timeout} s"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _fork_with_params(tiny_pipeline, destination: Path):
    copy = tiny_pipeline.fork(destination)
    copy.set_params(PARAMS)
    return copy


def test_a_killed_training_stage_resumes_and_matches_the_uninterrupted_run(tiny_pipeline, tmp_path):
    whole = _fork_with_params(tiny_pipeline, tmp_path / "whole")
    whole.dvc("repro", STAGE)

    stopped = _fork_with_params(tiny_pipeline, tmp_path / "stopped")
    from mlflow import MlflowClient

    client = MlflowClient(stopped.tracking_uri)
    experiment_id = client.get_experiment_by_name("facial-emotion").experiment_id
    built = {r.info.run_id for r in client.search_runs([experiment_id], "tags.model_name = 'cnn-none-relu'")}
    _kill_after_snapshot(stopped, "epoch-0002")
    assert not (stopped.root / "models" / "cnn-none-relu" / "model.keras").exists()
    rerun = stopped.dvc("repro", STAGE)
    log = rerun.stdout + rerun.stderr
    assert "resuming from the snapshot after epoch" in log
    assert "continuing MLflow run" in log

    import json

    info = json.loads((stopped.root / "models" / "cnn-none-relu" / "mlflow_run.json").read_text())
    assert info["epochs_resumed"] >= 2 and info["epochs_run"] == 4
    import pandas as pd

    epochs = pd.read_csv(stopped.root / "models" / "cnn-none-relu" / "history.csv")["epoch"].tolist()
    assert epochs == [1, 2, 3, 4]
    for a, b in zip(_weights(whole.root / "models" / "cnn-none-relu" / "model.keras"),
                    _weights(stopped.root / "models" / "cnn-none-relu" / "model.keras")):
        np.testing.assert_array_equal(a, b)
    assert not (stopped.root / ".state" / "train" / "cnn-none-relu").exists(), "the snapshot outlived the saved model"

    runs = [r for r in client.search_runs([experiment_id], "tags.model_name = 'cnn-none-relu'")
            if r.info.run_id not in built]
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, "val_accuracy")]
    assert sorted(steps) == [1, 2, 3, 4]
