"""The Python API: photos in, every face's box, landmarks and class probabilities out.

    from facial_emotion import EmotionRecognizer

    recognizer = EmotionRecognizer()                 # the shipped model on ONNX Runtime, YuNet; loaded once
    for face in recognizer.analyze("group.jpg"):
        print(face.box, face.label, face.confidence)

It is the demo's own path for one photo (faces/sources.read_image, the detector from
faces/detect.create_detector, faces/crops.crop_faces), with the classifier run once per batch of
faces rather than once per photo. The class names come from the model. Not thread-safe: OpenCV's
detector keeps per-image buffers; make one recognizer per thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..faces.emotion_classifier import EmotionClassifier
from ..faces.crops import crop_faces
from ..faces.uncertain import is_uncertain
from ..faces.detect import create_detector
from ..faces.detections import Detections
from ..faces.images import to_gray
from ..params.demo import DetectorParams
from ..faces.sources import read_image

SHIPPED = "shipped"
DEFAULT_BATCH = 64  # faces per classifier call in analyze_many (ONNX Runtime's per-face cost flattens by then)


@dataclass(frozen=True)
class Face:
    """One face: where it is and what the model makes of it."""

    box: tuple[int, int, int, int]                  # x, y, width, height in image pixels
    probabilities: dict[str, float]                 # one per class, in the model's order
    landmarks: tuple[tuple[float, float], ...] | None  # eyes (subject's right, left), nose, mouth corners; Haar: None
    score: float | None                             # the detector's confidence; None for Haar
    uncertain: bool = False                         # top probability under demo.detector.uncertain_below

    @property
    def label(self) -> str:
        """The most probable class."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    def to_dict(self) -> dict[str, Any]:
        landmarks = None if self.landmarks is None else [list(point) for point in self.landmarks]
        return {"box": list(self.box), "landmarks": landmarks, "score": self.score,
                "probabilities": self.probabilities, "label": self.label, "confidence": self.confidence,
                "uncertain": self.uncertain}


def load_model(model: str | Path | EmotionClassifier | None = None, threads: int | None = None) -> EmotionClassifier:
    """`None` or "shipped": the pretrained model inside the package; an `.onnx` file (ONNX Runtime);
    a `.keras` file or an MLflow model URI (these need the pipeline's packages:
    `pip install facial-emotion[pipeline]`); or an EmotionClassifier already loaded."""
    if isinstance(model, EmotionClassifier):
        return model
    from ..faces.emotion_classifier import ModelLoadError
    from .onnx_model import load_onnx_classifier

    if model is None or str(model) == SHIPPED:
        from .. import pretrained

        classifier = load_onnx_classifier(pretrained.ONNX_FILE, threads=threads)
        classifier.origin = SHIPPED
        return classifier
    text = str(model)
    if text.endswith(".onnx"):
        return load_onnx_classifier(text, threads=threads)
    if not (text.endswith(".keras") or text.startswith(("models:/", "runs:/"))):
        raise ModelLoadError(f"{text}: expected 'shipped', an .onnx or .keras file, or an MLflow model URI "
                             "(models:/<name>@champion)")
    try:
        from ..faces.classifier import load_classifier
        if text.startswith(("models:/", "runs:/")):
            import mlflow  # noqa: F401 - only to say what is missing, below
    except ImportError as exc:
        raise ModelLoadError(f"{text}: needs the pipeline's packages ({exc.name} is not installed): "
                             "pip install 'facial-emotion[pipeline]'") from None
    return load_classifier(text)


class EmotionRecognizer:
    """A face detector and an emotion model, each loaded once; `analyze` one image, `analyze_many` a stream."""

    def __init__(self, model: str | Path | EmotionClassifier | None = None, detector: DetectorParams | None = None,
                 threads: int | None = None) -> None:
        self.classifier = load_model(model, threads)
        self.detector = create_detector(detector or DetectorParams())
        if self.classifier.classes is None:
            self.classifier.warm_up()  # a pyfunc model tells its width only when called

    @property
    def classes(self) -> tuple[str, ...]:
        """The model's class names, in the order of its outputs."""
        return self.classifier.classes

    def analyze(self, image_or_path: str | Path | np.ndarray) -> list[Face]:
        """Every face in one image (a path, or a BGR/BGRA/gray uint8 array as OpenCV reads it), largest first.

        A file that cannot be read raises faces.sources.SourceError naming it."""
        return next(self.analyze_many([image_or_path]))

    def analyze_many(self, images: Iterable[str | Path | np.ndarray], batch_size: int = DEFAULT_BATCH,
                     still: bool = True) -> Iterator[list[Face]]:
        """One list of faces per image, in order, lazily; the faces of several images share one model call
        (up to `batch_size` faces). A file that cannot be read raises SourceError when its turn comes.
        `still`: photos get the detector's second look and turned scans (demo.detector); video frames
        (`still=False`) one pass each, as the demo's video path."""
        pending: list[tuple[Detections, np.ndarray]] = []
        count = 0
        for item in images:
            faces, crops = self.detect(item, still)
            pending.append((faces, crops))
            count += len(faces)
            if count >= batch_size:
                yield from self._classify(pending)
                pending, count = [], 0
        if pending:
            yield from self._classify(pending)

    def detect(self, image_or_path: str | Path | np.ndarray, still: bool = True) -> tuple[Detections, np.ndarray]:
        """The faces in one image and their 48x48 model inputs (the demo's detector and crops)."""
        image = read_image(Path(image_or_path)) if isinstance(image_or_path, (str, Path)) else image_or_path
        faces = self.detector.detect(image, still=still)
        params = self.detector.params
        return faces, crop_faces(to_gray(image), faces, params.crop, params.align)

    def _classify(self, pending: list[tuple[Detections, np.ndarray]]) -> Iterator[list[Face]]:
        crops = [c for _, c in pending if len(c)]
        probabilities = self.classifier(np.concatenate(crops)) if crops else np.zeros((0, len(self.classes)))
        start = 0
        for faces, _ in pending:
            yield faces_from(faces, probabilities[start:start + len(faces)], self.classes,
                             self.detector.params.uncertain_below)
            start += len(faces)


def faces_from(faces: Detections, probabilities: np.ndarray, classes: tuple[str, ...],
               uncertain_below: float = 0.0) -> list[Face]:
    """Detections and their probabilities as Face records, flagged uncertain under `uncertain_below`."""
    result = []
    for i, box in enumerate(faces.boxes):
        landmarks = None if faces.landmarks is None else tuple((float(x), float(y)) for x, y in faces.landmarks[i])
        score = None if faces.scores is None else float(faces.scores[i])
        result.append(Face(tuple(int(v) for v in box), {name: float(p) for name, p in zip(classes, probabilities[i])},
                           landmarks, score, is_uncertain(probabilities[i], uncertain_below)))
    return result
