"""Training for real on small synthetic data: the train stage's outputs and MLflow run, the
architectures' MLflow round trip, and reproducibility from one seed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from facial_emotion.data.dataset import FaceDataset
from facial_emotion.data.synthetic import generate_faces
from facial_emotion.files import write_json
from facial_emotion.models.baselines import fit_logreg, fit_svm
from facial_emotion.params.results import LogregSection, SvmSection
from tests.support.sections import changed

REPO = Path(__file__).resolve().parents[2]


def _small_project(root: Path, rows: int = 700, **train_overrides) -> None:
    """A project folder with params.yaml and the preprocess/balance outputs the train stage reads."""
    images, labels, usage = generate_faces(rows, seed=3)
    data = FaceDataset(images, labels, usage, np.arange(rows), source="synthetic", sha256="0" * 64)
    training = np.flatnonzero(usage == "Training")
    data.subset(training[: len(training) * 4 // 5]).save(root / "data/processed/train.npz")
    data.subset(training[len(training) * 4 // 5:]).save(root / "data/processed/val.npz")
    write_json(root / "data/balanced/none/balance.json", {"method": "none"})
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"].update({"epochs": 2, "batch_size": 32, **train_overrides})
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "dvc.yaml").write_text("stages: {}\n")


@pytest.mark.slow
def test_train_stage_writes_model_history_and_mlflow_run(tmp_path, monkeypatch):
    _small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    from stages import train

    train.main(["--balance", "none", "--activation", "relu"])

    folder = tmp_path / "models/cnn-none-relu"
    history = pd.read_csv(folder / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert history["loss"].iloc[1] < history["loss"].iloc[0]
    assert {"val_accuracy", "epoch_seconds", "images_per_second", "learning_rate"} <= set(history.columns)
    info = json.loads((folder / "mlflow_run.json").read_text())
    run = mlflow.MlflowClient(uri).get_run(info["run_id"])
    assert run.data.params["train.epochs"] == "2" and run.data.params["activation"] == "relu"
    assert run.data.tags["model_name"] == "cnn-none-relu" and run.data.tags["dvc_stage"] == "train@none-relu"
    assert {"loss", "val_accuracy", "epoch_seconds", "best_epoch", "kept_epoch"} <= set(run.data.metrics)
    assert info["restore"] == "best" and info["kept_epoch"] == info["best_epoch"]
    assert len(mlflow.MlflowClient(uri).get_metric_history(info["run_id"], "val_accuracy")) == 2

    import keras

    mlflow.set_tracking_uri(uri)
    logged = mlflow.keras.load_model(info["model_uri"])
    saved = keras.models.load_model(folder / "model.keras")
    faces = FaceDataset.load(tmp_path / "data/processed/val.npz").images[:8, :, :, None].astype(np.float32)
    np.testing.assert_allclose(np.asarray(logged(faces, training=False)), np.asarray(saved(faces, training=False)),
                               atol=1e-6)
    signature = mlflow.models.get_model_info(info["model_uri"]).signature
    assert list(signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 48, 48, 1]
    # The model's environment names the backend it runs on (MLflow's own inference fell back to keras alone).
    requirements = Path(mlflow.pyfunc.get_model_dependencies(info["model_uri"])).read_text().split()
    assert {r.split("==")[0] for r in requirements} >= {"mlflow", "keras", "numpy"}
    assert {"tensorflow", "tensorflow-cpu"} & {r.split("==")[0] for r in requirements}


@pytest.mark.slow
@pytest.mark.parametrize("architecture, overrides, crop", [("study1", {}, 0), ("compact", {}, 0), ("vgg", {}, 0),
                                                           ("compact", {"se_ratio": 8, "stem_padding": "same",
                                                                        "shortcut": "pool"}, 40)],
                         ids=["study1", "compact", "vgg", "compact-se-same-pool-crop"])
def test_each_architecture_trains_a_step_and_round_trips_through_mlflow(tmp_path, architecture, overrides, crop):
    from facial_emotion.models.architectures import build_model
    from facial_emotion.models.store import log_model
    from facial_emotion.models.training import one_hot
    from facial_emotion.params import read_params

    images, labels, _ = generate_faces(100, seed=1)
    params = read_params(REPO / "params.yaml")
    cnn = changed(params.cnn, architecture=architecture, **{architecture: overrides})
    model = build_model(cnn, "elu", changed(params.augmentation, flip=True, rotation=0.05, crop=crop), seed=1)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(images[:32, :, :, None], one_hot(labels[:32]), batch_size=32, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("architectures")
    with mlflow.start_run():
        model_uri = log_model(model, "model", images[:4])  # the one function every stage logs models with
    [spec] = mlflow.models.get_model_info(model_uri).signature.inputs.to_dict()
    assert list(spec["tensor-spec"]["shape"]) == [-1, 48, 48, 1]
    loaded = mlflow.keras.load_model(model_uri)
    x = images[32:40, :, :, None].astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), np.asarray(model(x, training=False)), atol=1e-5)


def test_baselines_are_reproducible():
    images, labels, _ = generate_faces(400, seed=2)
    logreg = LogregSection(C=1.0, solver="lbfgs", max_iter=50, tol=1e-4, n_jobs=1, max_train_samples=None)
    svm = SvmSection(method="exact", pca_components=20, whiten=False, C=10.0, gamma="scale", nystroem_components=100,
                     calibration_fraction=0.2, max_train_samples=None)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)  # 400 rows: disgust is tiny
        for fit, cfg in ((fit_logreg, logreg), (fit_svm, svm), (fit_svm, changed(svm, method="nystroem"))):
            a, b = fit(images, labels, cfg, 42), fit(images, labels, cfg, 42)
            pa, pb = a.predict_proba(images[:50, :, :, None]), b.predict_proba(images[:50, :, :, None])
            np.testing.assert_array_equal(pa, pb)
            np.testing.assert_allclose(pa.sum(axis=1), 1, atol=1e-6)


_DETERMINISTIC_RUN = """
import json, sys, numpy as np
from facial_emotion.data.synthetic import generate_faces
from facial_emotion.models.architectures import build_model
from facial_emotion.models.training import fit, set_seeds
from facial_emotion.params import read_params
params = read_params()
cfg = params.train.model_copy(update={"epochs": 2, "batch_size": 32, "deterministic": True})
images, labels, _ = generate_faces(300, seed=4)
set_seeds(42, True)
cnn = params.cnn.model_copy(update={"architecture": "compact"})
model = build_model(cnn, "relu", params.augmentation.model_copy(update={"flip": True}), 42)
result = fit(model, images[:240], labels[:240], images[240:], labels[240:], cfg)
print(json.dumps([[r["loss"], r["val_loss"]] for r in result.history]))
"""


@pytest.mark.slow
def test_cnn_training_is_deterministic_on_cpu():
    """Same data, params and seed with `train.deterministic: true` give the same CNN metrics."""
    # oneDNN's settings pass through, so `make test-isa` checks this on the kernels it picks.
    env = {"PATH": shutil.os.environ["PATH"], "TF_CPP_MIN_LOG_LEVEL": "2",
           **{k: v for k, v in shutil.os.environ.items() if k.startswith("ONEDNN_") or k == "TF_ENABLE_ONEDNN_OPTS"}}
    outputs = [subprocess.run([sys.executable, "-c", _DETERMINISTIC_RUN], cwd=REPO, capture_output=True, text=True,
                              check=True, env=env).stdout
               for _ in range(2)]
    first, second = (json.loads(o.strip().splitlines()[-1]) for o in outputs)
    assert first == second
