"""`python -m stages.export` in a project folder of its own: a champion model folder, the test rows
and a registered champion in a real SQLite MLflow store. It writes the ONNX file and the parity
report, logs both, tags the champion version; the demo's loader then runs that version on ONNX
Runtime. A champion that cannot be exported fails the stage with one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tf2onnx")

REPO = Path(__file__).resolve().parents[2]


def _project(root: Path) -> dict[str, str]:
    from facial_emotion.data.dataset import FaceDataset

    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    (root / "dvc.yaml").write_text("stages: {}\n")
    rng = np.random.default_rng(0)
    test = FaceDataset(images=rng.integers(0, 256, (300, 48, 48), dtype=np.uint8), labels=rng.integers(0, 7, 300),
                       usage=np.array(["PublicTest"] * 300), rows=np.arange(300), source="synthetic", sha256="0" * 64)
    test.save(root / "data/processed/test.npz")
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
            "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "PYTHONPATH": str(REPO),
            "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=600)


def test_the_champion_exports_is_logged_and_tagged_and_then_loads_on_onnx_runtime(tmp_path):
    from facial_emotion import pretrained

    env = _project(tmp_path)
    folder = tmp_path / "models/cnn-none-relu"
    folder.mkdir(parents=True)
    shutil.copy(pretrained.MODEL_FILE, folder / "model.keras")
    register = ("import mlflow; from facial_emotion import tracking; from facial_emotion.models.store import "
                "load_keras_model; tracking.configure('facial-emotion'); import numpy as np\n"
                "with mlflow.start_run():\n"
                "    info = mlflow.keras.log_model(load_keras_model('models/cnn-none-relu/model.keras'), name='m')\n"
                "v = mlflow.register_model(info.model_uri, 'facial-emotion')\n"
                "mlflow.MlflowClient().set_registered_model_alias('facial-emotion', 'champion', v.version)\n"
                "print(v.version)")
    registered = _run(tmp_path, env, "-c", register)
    assert registered.returncode == 0, registered.stderr[-3000:]
    version = registered.stdout.strip().splitlines()[-1]
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/champion.json").write_text(json.dumps(
        {"name": "cnn-none-relu", "registered_model": "facial-emotion", "version": version, "tta_flip": False}))

    result = _run(tmp_path, env, "-m", "stages.export")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "reports/export.json").read_text())
    assert report["parity"]["agreement"] == 1.0 and report["test_rows"] == 300
    assert report["classes"][0] == "anger" and (tmp_path / "models/export/model.onnx").is_file()
    assert "top class agrees on 100.0000% of 300 faces" in result.stderr

    check = ("import sys; from facial_emotion import tracking; tracking.configure('facial-emotion'); "
             "from facial_emotion.faces.classifier import load_classifier; "
             "c = load_classifier('models:/facial-emotion@champion'); "
             "print(c.runtime, c.version, c.classes[-1], 'tensorflow' in sys.modules)")
    loaded = _run(tmp_path, env, "-c", check)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    last_class = pretrained.card()["classes"][-1]  # the shipped default's: contempt (FER+) or neutral (FER2013)
    assert loaded.stdout.strip().splitlines()[-1] == f"onnxruntime {version} {last_class} False"


def test_a_baseline_champion_is_not_exported_and_says_so(tmp_path):
    """A scikit-learn champion (logreg wins tiny synthetic runs) must not stop `dvc repro`: one
    warning, `exported: false` with the reason, no ONNX file, and no registry tag pointing anywhere."""
    env = _project(tmp_path)
    (tmp_path / "models/logreg").mkdir(parents=True)
    from sklearn.linear_model import LogisticRegression
    import skops.io

    skops.io.dump(LogisticRegression(), tmp_path / "models/logreg/model.skops")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/champion.json").write_text(json.dumps({"name": "logreg", "registered_model": "facial-emotion",
                                                                "version": "1"}))
    (tmp_path / "models/export").mkdir()
    (tmp_path / "models/export/model.onnx").write_bytes(b"a stale export")
    result = _run(tmp_path, env, "-m", "stages.export")
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "not exported" in line]
    assert len(warnings) == 1 and "champion logreg is a scikit-learn model" in warnings[0]
    report = json.loads((tmp_path / "reports/export.json").read_text())
    assert report["exported"] is False and report["champion"] == "logreg"
    assert not (tmp_path / "models/export/model.onnx").exists()  # no stale file left to load
    assert (tmp_path / "models/export/not_exported.json").is_file()
