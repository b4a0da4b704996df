"""Face detection and model-ready crops: OpenCV's bundled Haar frontal-face cascade, every face
in the frame, 48x48 grayscale crops with a margin, resized with area interpolation.

The web service and the demo both call `detect_and_crop`; the demo's tracker adds `detect_near`
(search only around faces it already follows), which is what keeps a frame under 20 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np

from ..errors import PipelineError
from ..labels import IMAGE_SIZE
from ..params import ParamsError

CASCADE_FILE = "haarcascade_frontalface_default.xml"


class DetectorError(PipelineError, RuntimeError):
    """The Haar cascade cannot be loaded (an OpenCV build without it) or an image is unusable."""


@dataclass(frozen=True)
class DetectorParams:
    """The cascade's knobs (OpenCV's names) and the crop margin; defaults are params.yaml's."""

    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: tuple[int, int] = (30, 30)
    margin: float = 0.1  # share of the box width added on every side before cropping

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_size", tuple(int(v) for v in self.min_size))
        if not self.scale_factor > 1.0:
            raise ParamsError(f"params.yaml demo.detector.scale_factor: must be > 1, not {self.scale_factor}")
        if int(self.min_neighbors) < 0:
            raise ParamsError(f"params.yaml demo.detector.min_neighbors: must be >= 0, not {self.min_neighbors}")
        if len(self.min_size) != 2 or min(self.min_size) < 1:
            raise ParamsError(f"params.yaml demo.detector.min_size: must be [width, height] >= 1, not {self.min_size}")
        if not 0.0 <= self.margin <= 1.0:
            raise ParamsError(f"params.yaml demo.detector.margin: must be between 0 and 1, not {self.margin}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, where: str = "demo.detector") -> "DetectorParams":
        """From a params section; an unknown key is an error (a typo would otherwise be ignored)."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParamsError(f"params.yaml {where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)


def cascade_path() -> Path:
    return Path(cv2.data.haarcascades) / CASCADE_FILE


def _load_cascade(path: str) -> cv2.CascadeClassifier:
    if not hasattr(cv2, "CascadeClassifier"):
        raise DetectorError(f"OpenCV {cv2.__version__} has no CascadeClassifier; install opencv-python<5")
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise DetectorError(f"{path}: Haar cascade missing or unreadable; reinstall opencv-python<5")
    return cascade


def to_gray(image: np.ndarray) -> np.ndarray:
    """A uint8 2-D image from BGR, BGRA or gray input (OpenCV's channel order)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise DetectorError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise DetectorError(f"expected a gray, BGR or BGRA image, got shape {image.shape}")


def _as_boxes(found: Any) -> np.ndarray:
    """OpenCV returns an empty tuple when nothing is found, an [n, 4] array otherwise."""
    return np.asarray(found, dtype=np.int32).reshape(-1, 4)


class FaceDetector:
    """The Haar cascade loaded once per detector, with its params; boxes are int32 [n, 4] as (x, y, w, h).

    A cascade keeps per-image buffers, so one detector must not run in two threads at once; each
    detector has its own cascade (about 20 ms to load), so one per thread is safe.
    """

    def __init__(self, params: DetectorParams | None = None) -> None:
        self.params = params or DetectorParams()
        self._cascade = _load_cascade(str(cascade_path()))

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Every face in the frame, largest first."""
        p = self.params
        found = self._cascade.detectMultiScale(gray, scaleFactor=p.scale_factor, minNeighbors=p.min_neighbors,
                                               minSize=p.min_size)
        return _largest_first(_as_boxes(found))

    def detect_near(self, gray: np.ndarray, boxes: np.ndarray, search: float = 0.5,
                    size_range: tuple[float, float] = (0.7, 1.4)) -> np.ndarray:
        """Faces found only around `boxes` (each grown by `search` of its size per side) at sizes
        within `size_range` of it: a few ms instead of a full-frame scan, for faces already tracked."""
        p = self.params
        height, width = gray.shape[:2]
        found: list[np.ndarray] = []
        for x, y, w, h in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
            pad_x, pad_y = int(round(w * search)), int(round(h * search))
            x0, y0 = max(0, x - pad_x), max(0, y - pad_y)
            x1, y1 = min(width, x + w + pad_x), min(height, y + h + pad_y)
            low = max(p.min_size[0], int(w * size_range[0])), max(p.min_size[1], int(h * size_range[0]))
            high = int(w * size_range[1]), int(h * size_range[1])
            if x1 - x0 < low[0] or y1 - y0 < low[1] or high[0] < low[0] or high[1] < low[1]:
                continue
            local = self._cascade.detectMultiScale(gray[y0:y1, x0:x1], scaleFactor=p.scale_factor,
                                                   minNeighbors=p.min_neighbors, minSize=low, maxSize=high)
            local = _as_boxes(local)
            if len(local):
                found.append(local + np.array([x0, y0, 0, 0], dtype=np.int32))
        if not found:
            return np.zeros((0, 4), dtype=np.int32)
        return suppress_overlaps(_largest_first(np.concatenate(found)))


def _largest_first(boxes: np.ndarray) -> np.ndarray:
    order = np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")
    return boxes[order]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in `a` [n, 4] with every box in `b` [m, 4] -> [n, m]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter_w = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    inter_h = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = inter_w * inter_h
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def suppress_overlaps(boxes: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Keep the first of boxes overlapping by more than `threshold` IoU (one face found from two searches)."""
    keep: list[int] = []
    overlaps = iou(boxes, boxes)
    for i in range(len(boxes)):
        if all(overlaps[i, j] <= threshold for j in keep):
            keep.append(i)
    return boxes[keep]


def face_region(box: np.ndarray, margin: float) -> tuple[int, int, int, int]:
    """The box grown by `margin` of its size on every side, as (x0, y0, x1, y1); may leave the frame."""
    x, y, w, h = (int(v) for v in box)
    dx, dy = int(round(w * margin)), int(round(h * margin))
    return x - dx, y - dy, x + w + dx, y + h + dy


def crop_region(image: np.ndarray, box: np.ndarray, margin: float) -> np.ndarray:
    """The face with its margin; parts outside the frame are filled by repeating the edge, so a face
    at the border keeps its shape instead of being squashed."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = face_region(box, margin)
    inside = image[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    pads = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
    if any(pads) and inside.size:
        inside = cv2.copyMakeBorder(inside, *pads, borderType=cv2.BORDER_REPLICATE)
    return inside


def crop_faces(gray: np.ndarray, boxes: np.ndarray, margin: float = 0.1, size: int = IMAGE_SIZE) -> np.ndarray:
    """Model input: uint8 [n, size, size] crops of `gray` (area interpolation, as FER2013 was shrunk)."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    crops = np.empty((len(boxes), size, size), dtype=np.uint8)
    for i, box in enumerate(boxes):
        crops[i] = cv2.resize(crop_region(gray, box, margin), (size, size), interpolation=cv2.INTER_AREA)
    return crops


@lru_cache(maxsize=4)
def _detector(params: DetectorParams) -> FaceDetector:
    """Shared by every detect_and_crop call without a detector: pass your own from other threads."""
    return FaceDetector(params)


def detect_and_crop(image: np.ndarray, params: DetectorParams | None = None,
                    detector: FaceDetector | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every face in a BGR, BGRA or gray image: boxes int32 [n, 4] (x, y, w, h), largest first,
    and their crops uint8 [n, 48, 48], ready for `model.predict(crops[..., None])`."""
    detector = detector or _detector(params or DetectorParams())
    gray = to_gray(image)
    boxes = detector.detect(gray)
    return boxes, crop_faces(gray, boxes, detector.params.margin)
