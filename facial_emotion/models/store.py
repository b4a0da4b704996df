"""The models/<name>/ folder every trained model writes: model file, history, MLflow run info.

DVC may restore a folder from its run cache without running the stage, so the folder itself
carries the MLflow run id and model URI instead of code assuming a fresh run exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Callable

import numpy as np

from ..errors import PipelineError
from ..files import read_json, write_json
from ..labels import EMOTIONS
from ..paths import MODELS_DIR, RUN_INFO

KERAS_FILE = "model.keras"
SKLEARN_FILE = "model.skops"
# Types skops must trust to load our baseline pipelines (it refuses unknown types by design).
SKOPS_TRUSTED = ["facial_emotion.models.baselines.PixelScaler"]


class ModelStoreError(PipelineError, FileNotFoundError):
    """A model folder that is missing or incomplete."""


def model_dir(name: str, root: Path = MODELS_DIR) -> Path:
    return root / name


def write_run_info(folder: Path, info: dict[str, Any]) -> None:
    write_json(folder / RUN_INFO, info)


def read_run_info(folder: Path) -> dict[str, Any]:
    path = Path(folder) / RUN_INFO
    if not path.exists():
        raise ModelStoreError(f"{path}: missing; run the model's train stage (dvc repro)")
    return read_json(path)


def load_predictor(folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    """A function uint8 faces [n, 48, 48] -> probabilities [n, k] over the model's classes, whatever the
    model kind (a scikit-learn model's columns are its classes seen in training: scattered into the
    k classes its run info names, so a class it never saw gets probability 0)."""
    folder = Path(folder)
    if (folder / KERAS_FILE).exists():
        model = load_keras_model(folder / KERAS_FILE)
        return lambda images: predict_in_batches(model, images)
    if (folder / SKLEARN_FILE).exists():
        import skops.io

        pipeline = skops.io.load(folder / SKLEARN_FILE, trusted=skops_trusted_types(folder / SKLEARN_FILE))
        info = read_run_info(folder) if (folder / RUN_INFO).exists() else {}
        n_classes = len(info.get("classes") or EMOTIONS)
        seen = np.asarray(pipeline.classes_, dtype=np.int64)

        def predict(images: np.ndarray) -> np.ndarray:
            out = np.zeros((len(images), n_classes), dtype=np.float64)
            out[:, seen] = pipeline.predict_proba(_batch(images))
            return out

        return predict
    raise ModelStoreError(f"{folder}: no {KERAS_FILE} or {SKLEARN_FILE}; run the model's train stage")


def flip_averaged(predict: Callable[[np.ndarray], np.ndarray], enabled: bool) -> Callable[[np.ndarray], np.ndarray]:
    """`predict` averaged over each face and its mirror image when `enabled` (flip test-time averaging:
    `evaluate.tta_flip`, `distill.tta_flip`)."""
    if not enabled:
        return predict
    return lambda images: (predict(images) + predict(images[:, :, ::-1])) / 2


def keras_pip_requirements() -> list[str]:
    """The pins a logged Keras model needs, for `mlflow.keras.log_model(pip_requirements=...)`.

    MLflow otherwise infers them by loading the model in a bare subprocess, where this project's
    FusedBatchNormalization is unknown: the load fails, MLflow warns and falls back to keras alone,
    so the model's environment would lack TensorFlow, the backend it runs on.
    """
    from importlib import metadata

    pins = []
    for options in (("keras",), ("tensorflow-cpu", "tensorflow"), ("numpy",)):
        for dist in options:
            try:
                pins.append(f"{dist}=={metadata.version(dist)}")
                break
            except metadata.PackageNotFoundError:
                continue
    return pins


def load_keras_model(path: str | Path, compile: bool = True):
    """A saved Keras model, with this project's layers (FusedBatchNormalization) known to Keras.
    `compile=False`: without its optimizer (and the optimizer's state)."""
    import keras

    from .layers import FusedBatchNormalization

    return keras.models.load_model(path, custom_objects={"FusedBatchNormalization": FusedBatchNormalization},
                                   compile=compile)


def predict_in_batches(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Call the Keras model directly (no `predict` retracing per model), batch by batch."""
    x = _batch(images).astype(np.float32)
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def _batch(images: np.ndarray) -> np.ndarray:
    return images[..., None] if images.ndim == 3 else images


def skops_trusted_types(source: Path | bytes) -> list[str]:
    """Types to trust in a skops file (a path, or its bytes): our own (listed above) and scikit-learn /
    numpy / scipy ones.

    Anything else in the file stays untrusted and makes loading fail, which is skops' point.
    """
    import skops.io

    found = skops.io.get_untrusted_types(data=source) if isinstance(source, bytes) else \
        skops.io.get_untrusted_types(file=source)
    return sorted(set(SKOPS_TRUSTED) | {t for t in found if t.startswith(("sklearn.", "numpy.", "scipy."))})


def log_model(model, name: str, sample_faces: np.ndarray) -> str:
    """Log a Keras model or a scikit-learn pipeline into the active MLflow run; returns its model URI.

    The one place models reach MLflow (the train stages, and `evaluate` for an ensemble or a TTA
    champion). The signature comes from `sample_faces` (uint8 [n, 48, 48]). Keras models carry
    explicit pins (keras_pip_requirements); pipelines are stored with skops, not pickle, so loading
    runs no arbitrary code, and their pyfunc predicts probabilities.
    """
    import mlflow
    from mlflow.models import infer_signature

    sample = _batch(sample_faces)
    if hasattr(model, "predict_proba"):
        import skops.io

        info = mlflow.sklearn.log_model(model, name=name, serialization_format="skops",
                                        skops_trusted_types=skops_trusted_types(skops.io.dumps(model)),
                                        pyfunc_predict_fn="predict_proba",
                                        signature=infer_signature(sample, model.predict_proba(sample)))
    else:
        info = mlflow.keras.log_model(model, name=name, pip_requirements=keras_pip_requirements(),
                                      signature=infer_signature(sample, model.predict(sample.astype(np.float32),
                                                                                      verbose=0)))
    return info.model_uri
