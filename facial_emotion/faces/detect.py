"""The face-detector interface, and the one place that builds a detector from its settings.

Two detectors stand behind one interface (`detect`, `detect_near`): OpenCV's YuNet, a small
neural network whose weights ship inside this package (the default: on real photos it boxes faces
and nothing else), and OpenCV's Haar frontal-face cascade (kept as an option; it also boxes ties,
suits and patterned fabric). Both return `Detections` (detections.py); YuNet's carry five
landmarks per face, which the crops use to turn each face upright (see crops.py).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..params.demo import DetectorParams
from .detections import Detections


class FaceDetector(Protocol):
    """What the demo, the service and the benchmark call. One detector must not run in two threads
    at once (OpenCV keeps per-image buffers); make one per thread."""

    params: DetectorParams

    def detect(self, image: np.ndarray, still: bool = False) -> Detections:
        """Every face in a BGR, BGRA or gray uint8 image, largest first. `still`: a photo, not a
        video frame, so it may take longer (YuNet: a second look at higher resolution, and turned
        scans when `yunet.turned`); Haar already scans every pixel."""

    def detect_near(self, image: np.ndarray, boxes: np.ndarray, search: float = 0.5,
                    size_range: tuple[float, float] = (0.7, 1.4)) -> Detections:
        """Faces only around `boxes` (each grown by `search` of its size per side), at sizes within
        `size_range` of it: a few ms instead of a full scan, for faces the tracker already follows."""


def create_detector(params: DetectorParams | None = None) -> FaceDetector:
    """The detector `params.kind` names, loaded (weights or cascade) once."""
    params = params or DetectorParams()
    if params.kind == "yunet":
        from .yunet import YuNetDetector

        return YuNetDetector(params)
    from .haar import HaarDetector

    return HaarDetector(params)

