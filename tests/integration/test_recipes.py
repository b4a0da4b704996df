"""A recipe file runs for real: `python -m facial_emotion.recipes` (what `make recipe` runs) makes one DVC
experiment whose training run carries the recipe's params."""

from __future__ import annotations

import json
import sys

import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def test_the_cpu_recipe_runs_as_one_dvc_experiment(pipeline_fork):
    # The recipe as it is, but one short epoch, and a validation split the tiny data can fill with every class.
    result = pipeline_fork.run(sys.executable, "-m", "facial_emotion.recipes", "cpu", "-n", "cpu-tiny",
                               "-S", "train.epochs=1", "-S", "split.val_fraction=0.1")
    assert "recipe cpu.yaml: dvc exp run -n cpu-tiny" in result.stderr
    ran = result.stdout + result.stderr
    assert "Running stage 'train@none-relu'" in ran and "Running stage 'train@smote-elu'" not in ran

    shown = json.loads(pipeline_fork.dvc("exp", "show", "--json").stdout)  # the workspace, then the baseline commit
    [experiment] = [e for entry in shown for e in entry.get("experiments") or [] if e["name"] == "cpu-tiny"]
    params = experiment["revs"][0]["data"]["params"]["params.yaml"]["data"]
    assert params["cnn"]["architecture"] == "compact" and params["train"]["optimizer"] == "adamw"

    run_info = json.loads((pipeline_fork.root / "models/cnn-none-relu/mlflow_run.json").read_text())
    run = MlflowClient(pipeline_fork.tracking_uri).get_run(run_info["run_id"])
    assert run.data.tags["dvc_exp_name"] == "cpu-tiny" and run.data.params["cnn.architecture"] == "compact"
    assert run.data.metrics["parameters"] == 98_412  # the recipe's network
