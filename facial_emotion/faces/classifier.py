"""The emotion model behind the demo: any MLflow model URI (`models:/facial-emotion@champion`),
called once per frame on all its faces.

A pyfunc Keras model's `predict` goes through `keras.Model.predict`, which costs tens of ms per
call in set-up alone; the underlying Keras model's `predict_on_batch` runs the same compiled
graph in about 2 ms, so the demo unwraps it when it can. Scaling to [0, 1] is inside every model:
the crops go in as raw uint8 pixels.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from collections.abc import Callable

import numpy as np

from ..errors import PipelineError
from ..labels import IMAGE_SIZE, NUM_CLASSES

log = logging.getLogger(__name__)


class ModelLoadError(PipelineError, RuntimeError):
    """A model URI that does not resolve, or a model whose output is not [n, 7] probabilities."""


class NoChampion(ModelLoadError):
    """The registry has no model under the champion alias (nothing trained and registered yet)."""


class EmotionClassifier:
    """uint8 crops [n, 48, 48] (or [n, 48, 48, 1]) -> float32 probabilities [n, 7], in one call."""

    def __init__(self, predict: Callable[[np.ndarray], Any], uri: str, version: str | None = None,
                 raw_model: Any = None, origin: str = "given") -> None:
        self._predict = predict
        self.uri = uri
        self.version = version
        self.raw_model = raw_model  # the Keras model when called directly, else None
        self.origin = origin  # given (a URI or file the user named) | registry (the champion) | shipped (pretrained)
        self.trained_on: str | None = None  # the data_source it was trained on, when known (see provenance.py)
        self.note: str | None = None  # one line every answer carries: a synthetic model, or one passed over

    @property
    def fast_path(self) -> bool:
        return self.raw_model is not None

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, dtype=np.uint8)
        if crops.ndim == 3:
            crops = crops[..., None]
        if len(crops) == 0:
            return np.zeros((0, NUM_CLASSES), dtype=np.float32)
        probs = np.asarray(self._predict(crops), dtype=np.float32)
        if probs.shape != (len(crops), NUM_CLASSES):
            raise ModelLoadError(f"{self.uri}: expected probabilities of shape ({len(crops)}, {NUM_CLASSES}), "
                                 f"got {probs.shape}; is it a facial-emotion classifier?")
        return probs

    def warm_up(self) -> None:
        """Trace the compiled graph for the batch sizes a frame usually has, before latency is measured."""
        for n in (1, 2):
            self(np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8))


def from_keras(model: Any, uri: str, version: str | None = None) -> EmotionClassifier:
    """Wrap a Keras model: `predict_on_batch` runs its compiled graph without `predict`'s set-up cost."""
    return EmotionClassifier(model.predict_on_batch, uri, version, raw_model=model)


def alias_version(uri: str) -> str | None:
    """The registry version behind `models:/<name>@<alias>` (logged beside the results), else None."""
    if not uri.startswith("models:/") or "@" not in uri:
        return None
    from mlflow import MlflowClient

    name, alias = uri[len("models:/"):].rsplit("@", 1)
    try:
        return str(MlflowClient().get_model_version_by_alias(name.rstrip("/"), alias).version)
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing model or alias
        raise NoChampion(f"{uri}: not in the model registry ({_first_line(exc)}); "
                         "run the evaluate stage (dvc repro) to register a champion") from None


def load_classifier(uri: str) -> EmotionClassifier:
    """An MLflow model URI, a local MLflow model folder, or a `.keras` file -> EmotionClassifier.

    The MLflow tracking and registry URIs must already be set (facial_emotion.tracking.configure).
    """
    if uri.endswith(".keras"):
        if not Path(uri).is_file():
            raise ModelLoadError(f"{uri}: no such model file")
        from ..models.store import load_keras_model

        return _warmed(from_keras(load_keras_model(uri), uri))
    import mlflow

    from ..models.layers import FusedBatchNormalization  # noqa: F401 - registered, so MLflow's Keras loader finds it

    version = alias_version(uri)
    try:
        model = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # noqa: BLE001 - missing run, artifact or flavour: one line for the user
        raise ModelLoadError(f"{uri}: cannot load model ({_first_line(exc)})") from None
    try:
        raw = model.get_raw_model()
    except (NotImplementedError, AttributeError):
        raw = None
    if raw is not None and hasattr(raw, "predict_on_batch"):
        classifier = from_keras(raw, uri, version)
    else:
        classifier = EmotionClassifier(model.predict, uri, version)
    log.info("model %s%s loaded (%s)", uri, f" (version {version})" if version else "",
             "Keras predict_on_batch" if classifier.fast_path else "pyfunc predict")
    _say_training_data(classifier)
    return _warmed(classifier)


def _say_training_data(classifier: EmotionClassifier) -> None:
    from .provenance import SYNTHETIC, data_source, synthetic_warning

    classifier.trained_on = data_source(classifier.uri)
    if classifier.trained_on == SYNTHETIC:
        classifier.note = synthetic_warning(classifier.uri)
        log.warning("%s", classifier.note)


def load_default_classifier(registered: str) -> EmotionClassifier:
    """The registered champion (`models:/<registered>@champion`), or the pretrained model shipped
    with the package when the registry has none or its champion was trained on synthetic data
    (provenance.prefer_shipped), said in the first log line and in the classifier's `note`.

    Only a missing champion falls back: a champion that exists but fails to load is an error.
    """
    from .. import pretrained
    from .provenance import data_source, prefer_shipped

    uri = f"models:/{registered}@champion"
    try:
        alias_version(uri)
    except NoChampion:
        import mlflow

        log.warning("no champion registered as %s in %s: using the pretrained model shipped with the package, %s. "
                    "Run `dvc repro` to train and register your own.", uri, mlflow.get_tracking_uri(),
                    pretrained.summary())
        return _shipped(None)
    if prefer_shipped(data_source(uri)):
        note = (f"the registered champion {uri} was trained on synthetic faces only: the pretrained model shipped "
                f"with the package (real FER2013) answers instead; pass --model {uri} to use the champion anyway")
        log.warning("%s (%s)", note, pretrained.summary())
        return _shipped(note)
    classifier = load_classifier(uri)
    classifier.origin = "registry"
    return classifier


def _shipped(note: str | None) -> EmotionClassifier:
    from .. import pretrained
    from .provenance import SHIPPED_DATA

    classifier = load_classifier(str(pretrained.MODEL_FILE))
    classifier.origin, classifier.trained_on, classifier.note = "shipped", SHIPPED_DATA, note
    return classifier


def _warmed(classifier: EmotionClassifier) -> EmotionClassifier:
    classifier.warm_up()
    return classifier


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
