"""Keras -> ONNX: the inference graph of a trained model (an ensemble too) as one ONNX file that
ONNX Runtime runs without TensorFlow, and the parity check that the two agree.

The graph is traced with `training=False`, so the in-model augmentation layers pass faces through
and TrainingRandomCrop takes its centre window; a graph that still holds a random op is refused
rather than exported. The input stays uint8 (raw 0-255 pixels): scaling is the model's first layer,
as in Keras. The class names go into the file's metadata (onnx_model.CLASSES_KEY).

Converter: tf2onnx (the maintained TensorFlow -> ONNX converter; Keras 3.15's own `export(format=
"onnx")` traces the augmentation branch too and writes ops ONNX Runtime refuses). Needs the
pipeline's packages (TensorFlow, tf2onnx, onnx); loading the result needs onnxruntime only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import PipelineError
from ..files import atomic_path
from ..labels import IMAGE_SIZE, class_names
from .onnx_model import CLASSES_KEY, INPUT_NAME, OUTPUT_NAME, SOURCE_KEY, load_onnx_classifier

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17


class ExportError(PipelineError, RuntimeError):
    """A model that cannot be exported (not Keras, random ops at inference) or whose export disagrees with it."""


@dataclass(frozen=True)
class Parity:
    """ONNX Runtime against Keras on the same faces."""

    rows: int
    agreement: float           # share of faces with the same top class
    max_abs_difference: float  # largest difference of any class probability
    min_agreement: float

    @property
    def ok(self) -> bool:
        return self.agreement >= self.min_agreement

    def line(self) -> str:
        return (f"top class agrees on {self.agreement:.4%} of {self.rows} faces (needed {self.min_agreement:.2%}); "
                f"largest probability difference {self.max_abs_difference:.2e}")


def inference_function(model):
    """A tf.function uint8 [n, 48, 48, 1] -> {probabilities}, with the model in inference mode."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 1), tf.uint8, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def infer(pixels):
        return {OUTPUT_NAME: model(tf.cast(pixels, tf.float32), training=False)}

    return infer, spec


def random_ops(function) -> list[str]:
    """Random-number ops left in the traced graph (augmentation that is not switched off at inference)."""
    graph = function.get_concrete_function().graph
    return sorted({op.type for op in graph.get_operations() if "Random" in op.type})


def to_onnx(model, path: str | Path, source: str, opset: int = DEFAULT_OPSET) -> tuple[str, ...]:
    """Write `model`'s inference graph to `path` (atomically) with its class names in the metadata;
    returns the class names."""
    if not hasattr(model, "output_shape"):
        raise ExportError(f"{source}: only Keras models (the CNNs, the ensemble) export to ONNX; "
                          f"this is a {type(model).__name__}")
    try:
        classes = class_names(int(model.output_shape[-1]))
    except ValueError as exc:
        raise ExportError(f"{source}: {exc}") from None
    infer, spec = inference_function(model)
    leftover = random_ops(infer)
    if leftover:
        raise ExportError(f"{source}: the inference graph still holds random ops ({', '.join(leftover)}): "
                          "an augmentation layer is not switched off at inference")
    import tf2onnx
    from onnx import helper, save_model

    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    proto, _ = tf2onnx.convert.from_function(infer, input_signature=[spec], opset=opset)
    helper.set_model_props(proto, {CLASSES_KEY: json.dumps(list(classes)), SOURCE_KEY: source,
                                   "producer": f"facial-emotion {__version__}",
                                   "input": "uint8 faces [n, 48, 48, 1], raw 0-255 pixels",
                                   "output": "class probabilities [n, len(class_names)]"})
    proto.doc_string = f"Facial emotion classifier exported from {source}"
    with atomic_path(path) as tmp:
        save_model(proto, str(tmp))
    return classes


def check_parity(keras_model, onnx_path: str | Path, faces: np.ndarray, min_agreement: float,
                 batch_size: int = 256) -> Parity:
    """Both models on `faces` (uint8 [n, 48, 48]); the top class must agree on `min_agreement` of them."""
    from ..models.store import predict_in_batches

    if len(faces) == 0:
        raise ExportError("no faces to check the export on")
    expected = predict_in_batches(keras_model, faces, batch_size)
    onnx = load_onnx_classifier(onnx_path)
    got = np.concatenate([onnx(faces[i:i + batch_size]) for i in range(0, len(faces), batch_size)])
    agreement = float(np.mean(expected.argmax(axis=1) == got.argmax(axis=1)))
    return Parity(len(faces), agreement, float(np.max(np.abs(expected - got))), min_agreement)


def export_checked(model, path: str | Path, faces: np.ndarray, source: str, min_agreement: float,
                   opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """Export, check parity, and describe the result; a failed check removes the file and raises."""
    path = Path(path)
    classes = to_onnx(model, path, source, opset)
    parity = check_parity(model, path, faces, min_agreement)
    log.info("%s -> %s: %s", source, path, parity.line())
    if not parity.ok:
        path.unlink(missing_ok=True)
        raise ExportError(f"{path}: the ONNX model disagrees with {source}: {parity.line()}")
    return {"source": source, "file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
            "classes": list(classes), "opset": opset, "parity": {**asdict(parity)}, "runtime": runtime_versions()}


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def runtime_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for dist in ("onnxruntime", "tf2onnx", "onnx", "keras"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions
