"""One photo in, every face's box and class probabilities out: the demo's detector (params.yaml
`demo.detector`) and crops, the registered model (on ONNX Runtime once exported), its class names.

OpenCV's detectors keep per-image buffers, so one detector must not run in two threads at once, and
a Keras model is not documented as safe to call from several: detection and classification each
run one request at a time, while decoding and downscaling run in parallel. OpenCV already spreads
one image over every core, so more detectors would not make a 2-core machine faster.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import cv2
import numpy as np

from ..faces.emotion_classifier import EmotionClassifier
from ..faces.crops import crop_faces
from ..faces.detect import create_detector
from ..faces.uncertain import is_uncertain
from ..labels import IMAGE_SIZE
from ..params.demo import DetectorParams, ServeSection
from .images import PreparedImage, prepare_image


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # two letters at least: C:/ is a Windows path


def public_uri(uri: str) -> str:
    """The model's URI as clients may see it: an MLflow URI as it is, a file or folder by its name
    only (the server's directory layout is nobody else's business)."""
    if _SCHEME.match(uri) and not uri.lower().startswith("file:"):
        return uri
    return re.split(r"[/\\]", re.sub(r"^file:(//)?", "", uri, flags=re.IGNORECASE).rstrip("/\\"))[-1] or "model"


def model_identity(classifier: EmotionClassifier) -> dict[str, str | None]:
    """uri, registered name and version: from `models:/<name>@<alias>` or `models:/<name>/<version>`."""
    uri = public_uri(classifier.uri)
    name, version = None, classifier.version
    if uri.startswith("models:/"):
        rest = uri[len("models:/"):].strip("/")
        if "@" in rest:
            name = rest.rsplit("@", 1)[0]
        elif "/" in rest:
            name, number = rest.rsplit("/", 1)
            version = version or number
        elif not rest.startswith("m-"):  # models:/m-<id> is a logged model, not a registered one
            name = rest
    return {"uri": uri, "name": name, "version": None if version is None else str(version),
            "origin": classifier.origin, "trained_on": classifier.trained_on, "note": classifier.note}


class EmotionService:
    def __init__(self, classifier: EmotionClassifier, serve: ServeSection, detector: DetectorParams) -> None:
        """`serve`: params.yaml's `serve:` section; `detector`: its `demo.detector` (the demo's own)."""
        self.classifier = classifier
        self.serve = serve
        self.detector = create_detector(detector)
        self.model = model_identity(classifier)
        self._detect_lock = threading.Lock()
        self._classify_lock = threading.Lock()

    def predict(self, data: bytes, whole_image: bool | None = None) -> dict[str, Any]:
        """The API's answer for one uploaded image (see app.Prediction for the schema)."""
        fallback = self.serve.whole_image_fallback if whole_image is None else whole_image
        image = prepare_image(data, self.serve.max_pixels, self.serve.max_side, self.serve.max_decoded_pixels)
        with self._detect_lock:
            faces = self.detector.detect(image.bgr, still=True)
        used_whole_image = fallback and len(faces) == 0
        if used_whole_image:
            # The study's mode: the picture is the face (a 48x48 crop), resized whole, no margin.
            height, width = image.gray.shape
            boxes = np.array([[0, 0, width, height]], dtype=np.int32)
            crops = cv2.resize(image.gray, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)[None]
        else:
            params = self.detector.params
            boxes = faces.boxes
            crops = crop_faces(image.gray, faces, params.crop, params.align)
        with self._classify_lock:
            probabilities = self.classifier(crops)
        return {
            "model": self.model,
            "image": {"width": image.width, "height": image.height, "scale": round(image.scale, 6),
                      "format": image.format},
            "faces": [_face(box, probs, image, self.classifier.classes, self.detector.params.uncertain_below)
                      for box, probs in zip(boxes, probabilities)],
            "whole_image": bool(used_whole_image),
        }


def _face(box: np.ndarray, probabilities: np.ndarray, image: PreparedImage, classes: tuple[str, ...],
          uncertain_below: float) -> dict[str, Any]:
    x, y, w, h = (float(v) / image.scale for v in box)
    x0, y0 = max(0, round(x)), max(0, round(y))
    x1, y1 = min(image.width, round(x + w)), min(image.height, round(y + h))
    best = int(np.argmax(probabilities))
    return {
        "box": [x0, y0, x1 - x0, y1 - y0],
        "probabilities": {name: round(float(p), 6) for name, p in zip(classes, probabilities)},
        "label": classes[best],
        "confidence": round(float(probabilities[best]), 6),
        "uncertain": is_uncertain(probabilities, uncertain_below),
    }
