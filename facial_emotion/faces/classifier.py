"""The emotion model behind the demo, the service, the API and the CLI: an exported ONNX file run
by ONNX Runtime (no TensorFlow), any MLflow model URI (`models:/facial-emotion@champion`), or a
`.keras` file, called once per frame on all its faces.

A registered champion that the `export` stage converted carries the ONNX file's artifact URI in a
version tag; it is loaded through ONNX Runtime, and only a version without one goes through Keras
(said in the log). A pyfunc Keras model's `predict` goes through `keras.Model.predict`, which
costs tens of ms per call in set-up alone; the underlying Keras model's `predict_on_batch` runs the
same compiled graph in about 2 ms, so the Keras path unwraps it when it can. Scaling to [0, 1] is
inside every model: the crops go in as raw uint8 pixels. Every loader returns an `EmotionClassifier`
(emotion_classifier.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..evaluation.registry import champion_uri
from ..labels import class_names
from .emotion_classifier import EmotionClassifier, ModelLoadError

log = logging.getLogger(__name__)


class NoChampion(ModelLoadError):
    """The registry has no model under the champion alias (nothing trained and registered yet)."""


def from_keras(model: Any, uri: str, version: str | None = None) -> EmotionClassifier:
    """Wrap a Keras model: `predict_on_batch` runs its compiled graph without `predict`'s set-up cost."""
    try:
        classes = class_names(int(model.output_shape[-1]))
    except ValueError as exc:
        raise ModelLoadError(f"{uri}: {exc}; is it a facial-emotion classifier?") from None
    return EmotionClassifier(model.predict_on_batch, uri, version, raw_model=model, classes=classes,
                             runtime="keras predict_on_batch")


def alias_version(uri: str) -> str | None:
    """The registry version behind `models:/<name>@<alias>` (logged beside the results), else None."""
    if not uri.startswith("models:/") or "@" not in uri:
        return None
    return str(registered_version(uri).version)


def load_classifier(uri: str) -> EmotionClassifier:
    """An `.onnx` file (ONNX Runtime, no TensorFlow), an MLflow model URI, a local MLflow model folder,
    or a `.keras` file -> EmotionClassifier.

    The MLflow tracking and registry URIs must already be set (facial_emotion.tracking.configure).
    A registered version with an exported ONNX file (the `export` stage's tag) runs on ONNX Runtime.
    """
    if uri.endswith(".onnx"):
        from ..inference.onnx_model import load_onnx_classifier

        return _warmed(load_onnx_classifier(uri))
    if uri.startswith("models:/"):
        exported = _exported_onnx(uri)
        if exported is not None:
            _say_training_data(exported)
            return exported
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
        classifier = EmotionClassifier(model.predict, uri, version, runtime="pyfunc predict")
    log.info("model %s%s loaded (%s)", uri, f" (version {version})" if version else "", classifier.runtime)
    _say_training_data(classifier)
    return _warmed(classifier)


def _exported_onnx(uri: str) -> EmotionClassifier | None:
    """The ONNX file the `export` stage logged for the registered version behind `uri`, loaded through
    ONNX Runtime; None (and a log line saying why Keras is used) when that version has none."""
    from ..inference.onnx_model import ONNX_TAG

    version = registered_version(uri)
    if version is None:
        return None
    artifact = version.tags.get(ONNX_TAG)
    if not artifact:
        log.warning("%s (version %s) has no exported ONNX model (run the export stage: dvc repro export); "
                    "loading its Keras model through TensorFlow", uri, version.version)
        return None
    import mlflow

    from ..inference.onnx_model import load_onnx_classifier

    try:
        local = mlflow.artifacts.download_artifacts(artifact)
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing run or artifact
        raise ModelLoadError(f"{uri}: cannot download its ONNX model {artifact} ({_first_line(exc)})") from None
    classifier = load_onnx_classifier(local, uri=uri, version=str(version.version))
    log.info("model %s (version %s) loaded from its exported ONNX file (onnxruntime)", uri, version.version)
    return _warmed(classifier)


def registered_version(uri: str):
    """The MLflow ModelVersion behind `models:/<name>@<alias>` or `models:/<name>/<version>`, else None
    (a logged-model URI `models:/m-...` names no registered version)."""
    from mlflow import MlflowClient

    rest = uri[len("models:/"):].strip("/")
    client = MlflowClient()
    try:
        if "@" in rest:
            name, alias = rest.rsplit("@", 1)
            return client.get_model_version_by_alias(name, alias)
        if "/" in rest:
            name, number = rest.rsplit("/", 1)
            return client.get_model_version(name, number)
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing model or alias
        raise NoChampion(f"{uri}: not in the model registry ({_first_line(exc)}); "
                         "run the evaluate stage (dvc repro) to register a champion") from None
    return None


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

    uri = champion_uri(registered)
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

    classifier = load_classifier(str(pretrained.ONNX_FILE))
    classifier.origin, classifier.trained_on, classifier.note = "shipped", SHIPPED_DATA, note
    return classifier


def _warmed(classifier: EmotionClassifier) -> EmotionClassifier:
    classifier.warm_up()
    return classifier


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
