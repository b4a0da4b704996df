"""The one type every emotion model is called through (`EmotionClassifier`) and the error its
loading and calling raise, whatever the runtime behind it.

Its own module so that each way of loading a model (onnx_model.py for ONNX Runtime, classifier.py
for MLflow and Keras) builds it without importing the module that dispatches between them.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

import numpy as np

from ..errors import PipelineError
from ..labels import IMAGE_SIZE, class_names


class ModelLoadError(PipelineError, RuntimeError):
    """A model URI that does not resolve, or a model whose output is not [n, classes] probabilities."""


class EmotionClassifier:
    """uint8 crops [n, 48, 48] (or [n, 48, 48, 1]) -> float32 probabilities [n, len(classes)], in one call.

    `classes` come from the model: an exported model's metadata, or a Keras model's output width
    (labels.class_names); None until the first call for a pyfunc model, which tells neither.
    """

    def __init__(self, predict: Callable[[np.ndarray], Any], uri: str, version: str | None = None,
                 raw_model: Any = None, origin: str = "given", classes: tuple[str, ...] | None = None,
                 runtime: str = "pyfunc predict") -> None:
        self._predict = predict
        self.uri = uri
        self.version = version
        self.raw_model = raw_model  # the Keras model when called directly, else None
        self.origin = origin  # given (a URI or file the user named) | registry (the champion) | shipped (pretrained)
        self.classes = None if classes is None else tuple(classes)
        self.runtime = runtime  # how it is called: onnxruntime | keras predict_on_batch | pyfunc predict
        self.trained_on: str | None = None  # the data_source it was trained on, when known (see provenance.py)
        self.note: str | None = None  # one line every answer carries: a synthetic model, or one passed over

    @property
    def fast_path(self) -> bool:
        """Called without per-call set-up: ONNX Runtime, or a Keras model's predict_on_batch."""
        return self.raw_model is not None or self.runtime == "onnxruntime"

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, dtype=np.uint8)
        if crops.ndim == 3:
            crops = crops[..., None]
        if len(crops) == 0 and self.classes is not None:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        probs = np.asarray(self._predict(crops), dtype=np.float32)
        if self.classes is None and probs.ndim == 2:
            try:
                self.classes = class_names(probs.shape[1])
            except ValueError as exc:
                raise ModelLoadError(f"{self.uri}: {exc}; is it a facial-emotion classifier?") from None
        width = len(self.classes) if self.classes is not None else "classes"
        if probs.shape != (len(crops), width):
            raise ModelLoadError(f"{self.uri}: expected probabilities of shape ({len(crops)}, {width}), "
                                 f"got {probs.shape}; is it a facial-emotion classifier?")
        return probs

    def warm_up(self) -> None:
        """Trace the compiled graph for the batch sizes a frame usually has, before latency is measured."""
        for n in (1, 2):
            self(np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8))
