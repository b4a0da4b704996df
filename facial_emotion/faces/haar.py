"""OpenCV's Haar frontal-face cascade (bundled with opencv-python 4.x), kept as an option beside YuNet.

Fast to load and needs no weights of ours, but it has no landmarks and, on real photos, boxes
ties, suits and patterned fabric as faces (docs/detector.md has the measured figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..params.demo import DetectorParams
from .boxes import search_window, suppress_overlaps
from .detections import DetectorError, Detections, empty
from .images import to_gray

CASCADE_FILE = "haarcascade_frontalface_default.xml"


def cascade_path() -> Path:
    return Path(cv2.data.haarcascades) / CASCADE_FILE


def load_cascade(path: str | Path | None = None) -> cv2.CascadeClassifier:
    path = str(path or cascade_path())
    if not hasattr(cv2, "CascadeClassifier"):
        raise DetectorError(f"OpenCV {cv2.__version__} has no CascadeClassifier; install opencv-python<5")
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise DetectorError(f"{path}: Haar cascade missing or unreadable; reinstall opencv-python<5")
    return cascade


def _as_boxes(found: Any) -> np.ndarray:
    """OpenCV returns an empty tuple when nothing is found, an [n, 4] array otherwise."""
    return np.asarray(found, dtype=np.int32).reshape(-1, 4)


class HaarDetector:
    """The cascade loaded once (about 20 ms), with `params.haar`; boxes only, no scores or landmarks."""

    def __init__(self, params: DetectorParams | None = None) -> None:
        self.params = params or DetectorParams(kind="haar", align=False)
        self._cascade = load_cascade()

    def detect(self, image: np.ndarray, still: bool = False) -> Detections:  # noqa: ARG002 - scans every pixel already
        p = self.params.haar
        found = self._cascade.detectMultiScale(to_gray(image), scaleFactor=p.scale_factor,
                                               minNeighbors=p.min_neighbors, minSize=tuple(p.min_size))
        return Detections(_as_boxes(found)).largest_first()

    def detect_near(self, image: np.ndarray, boxes: np.ndarray, search: float = 0.5,
                    size_range: tuple[float, float] = (0.7, 1.4)) -> Detections:
        p = self.params.haar
        gray = to_gray(image)
        height, width = gray.shape[:2]
        found: list[Detections] = []
        for box in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
            x0, y0, x1, y1 = search_window(box, search, width, height)
            w, h = int(box[2]), int(box[3])
            low = max(p.min_size[0], int(w * size_range[0])), max(p.min_size[1], int(h * size_range[0]))
            high = int(w * size_range[1]), int(h * size_range[1])
            if x1 - x0 < low[0] or y1 - y0 < low[1] or high[0] < low[0] or high[1] < low[1]:
                continue
            local = _as_boxes(self._cascade.detectMultiScale(gray[y0:y1, x0:x1], scaleFactor=p.scale_factor,
                                                             minNeighbors=p.min_neighbors, minSize=low, maxSize=high))
            if len(local):
                found.append(Detections(local + np.array([x0, y0, 0, 0], dtype=np.int32)))
        if not found:
            return empty(with_landmarks=False)
        merged = Detections.concatenate(found, with_landmarks=False).largest_first()
        return merged.select(suppress_overlaps(merged.boxes))
