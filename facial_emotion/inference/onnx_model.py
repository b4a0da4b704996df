"""An exported emotion model run by ONNX Runtime: no TensorFlow, about 0.5 ms per face on 2 cores.

The file is self-describing: its metadata (ONNX `metadata_props`) holds the class names in output
order, so a seven-class FER2013 model and an eight-class FER+ one load the same way, and every
consumer (API, CLI columns, demo, service) takes the names from here, never from a constant.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..faces.emotion_classifier import EmotionClassifier, ModelLoadError

CLASSES_KEY = "class_names"  # metadata: JSON list of the class names, in output order
SOURCE_KEY = "source"        # metadata: what was exported (a model name, URI or file)
INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"
ONNX_TAG = "onnx_artifact_uri"  # registered model version tag: where the export stage logged the ONNX file


def session(path: str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session for `path`; `threads` intra-op threads (default: ONNX Runtime's, one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about graph internals, not the user's input
    # Idle worker threads sleep instead of spinning: they share the cores with the detector's OpenCV threads.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own types for bad files
        text = str(exc).strip().splitlines()
        raise ModelLoadError(f"{path}: not a loadable ONNX model ({text[0] if text else type(exc).__name__})") from None


def read_classes(sess, path: str | Path) -> tuple[str, ...]:
    """The class names stored in the model's metadata, checked against its output width."""
    meta = sess.get_modelmeta().custom_metadata_map
    if CLASSES_KEY not in meta:
        raise ModelLoadError(f"{path}: no '{CLASSES_KEY}' in the model's metadata; export it with "
                             "facial_emotion.inference.export (dvc repro export)")
    try:
        classes = tuple(str(name) for name in json.loads(meta[CLASSES_KEY]))
    except (ValueError, TypeError):
        raise ModelLoadError(f"{path}: metadata '{CLASSES_KEY}' is not a JSON list of names") from None
    width = sess.get_outputs()[0].shape[-1]
    if isinstance(width, int) and width != len(classes):
        raise ModelLoadError(f"{path}: {len(classes)} class names in its metadata but {width} outputs")
    return classes


def load_onnx_classifier(path: str | Path, uri: str | None = None, version: str | None = None,
                         threads: int | None = None) -> EmotionClassifier:
    """An exported model file -> EmotionClassifier running on ONNX Runtime."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    threads = threads or _env_threads()
    sess = session(path, threads)
    classes = read_classes(sess, path)
    inputs = sess.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(uint8)":
        raise ModelLoadError(f"{path}: expected one uint8 input (raw 0-255 faces), got "
                             f"{[(i.name, i.type) for i in inputs]}")
    name = inputs[0].name

    def predict(crops: np.ndarray) -> np.ndarray:
        return sess.run(None, {name: np.ascontiguousarray(crops, dtype=np.uint8)})[0]

    return EmotionClassifier(predict, uri or str(path), version, classes=classes, runtime="onnxruntime")


def _env_threads() -> int | None:
    """FACIAL_EMOTION_THREADS caps ONNX Runtime's threads (a shared server, a benchmark on n cores)."""
    value = os.environ.get("FACIAL_EMOTION_THREADS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ModelLoadError(f"FACIAL_EMOTION_THREADS={value!r}: expected a whole number of threads >= 1")
    return int(value)
