"""A training stage stopped from outside with SIGTERM (what `timeout`, `docker stop` and a cancelled
CI job send): its MLflow run ends KILLED, the process exits 143 with one line, no traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml

from facial_emotion.data.dataset import FaceDataset
from facial_emotion.data.synthetic import generate_faces
from facial_emotion.files import write_json

from .pipeline import pipeline_env

REPO = Path(__file__).resolve().parents[2]


def _training_project(root: Path) -> None:
    """The code linked in, params for a long run, and the preprocess/balance outputs train reads."""
    for name in ("stages", "facial_emotion"):
        (root / name).symlink_to(REPO / name)
    images, labels, usage = generate_faces(280, seed=3)
    data = FaceDataset(images, labels, usage, np.arange(len(labels)), source="synthetic", sha256="0" * 64)
    training = np.flatnonzero(usage == "Training")
    data.subset(training[: len(training) * 4 // 5]).save(root / "data/processed/train.npz")
    data.subset(training[len(training) * 4 // 5:]).save(root / "data/processed/val.npz")
    write_json(root / "data/balanced/none/balance.json", {"method": "none"})
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"].update(epochs=10_000, batch_size=32, synthetic_max_epochs=0)
    params["train"]["early_stopping"]["patience"] = 10_000
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "dvc.yaml").write_text("stages: {}\n")


@pytest.mark.slow
def test_sigterm_during_training_ends_the_run_as_killed(tmp_path):
    _training_project(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**pipeline_env(tmp_path), "MLFLOW_TRACKING_URI": uri, "PYTHONDONTWRITEBYTECODE": "1"}
    mlflow.MlflowClient(uri).search_experiments()  # the store's tables, made before two processes use it
    with open(tmp_path / "stderr.txt", "w+") as err:
        stage = subprocess.Popen([sys.executable, "-m", "stages.train", "--balance", "none", "--activation", "relu"],
                                 cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            run = _wait_for_an_epoch(uri, stage)
            stage.send_signal(signal.SIGTERM)
            code = stage.wait(timeout=120)
        finally:
            if stage.poll() is None:
                stage.kill()
        err.seek(0)
        lines = err.read().strip().splitlines()
    assert code == 128 + signal.SIGTERM
    assert lines[-1] == f"error: stopped by SIGTERM; MLflow run {run.info.run_id} ended as KILLED", lines[-5:]
    assert not any("Traceback" in line for line in lines)
    assert mlflow.MlflowClient(uri).get_run(run.info.run_id).info.status == "KILLED"


def _wait_for_an_epoch(uri: str, stage: subprocess.Popen, timeout: float = 600):
    """The stage's MLflow run once it has logged its first epoch (so SIGTERM lands inside `fit`)."""
    client = mlflow.MlflowClient(uri)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert stage.poll() is None, "the stage ended before it was stopped"
        experiment = client.get_experiment_by_name("facial-emotion")
        if experiment is not None:
            runs = client.search_runs([experiment.experiment_id])
            if runs and "loss" in runs[0].data.metrics:
                return runs[0]
        time.sleep(1)
    raise AssertionError("no epoch logged in time")
