"""Face detection settings and results, and the one place that builds a detector from them.

Two detectors stand behind one interface (`detect`, `detect_near`): OpenCV's YuNet, a small
neural network whose weights ship inside this package (the default: on real photos it boxes faces
and nothing else), and OpenCV's Haar frontal-face cascade (kept as an option; it also boxes ties,
suits and patterned fabric). Both return `Detections`; YuNet's carry five landmarks per face,
which the crops use to turn each face upright (see crops.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ..errors import PipelineError
from ..params.demo import CropParams, DetectorParams, HaarParams, YuNetParams  # noqa: F401 - one schema, used here
from .boxes import largest_first


class DetectorError(PipelineError, RuntimeError):
    """A detector that cannot be loaded (an OpenCV build without it, missing weights) or an unusable image."""


@dataclass(frozen=True)
class Detections:
    """Faces in one image, largest first. Landmarks (YuNet only) are the subject's right eye, left
    eye, nose tip, right and left mouth corners, in image pixels: the right eye is on the image's left."""

    boxes: np.ndarray                 # int32 [n, 4] as (x, y, w, h)
    scores: np.ndarray | None = None  # float32 [n]; None for Haar
    landmarks: np.ndarray | None = None  # float32 [n, 5, 2]; None for Haar

    def __len__(self) -> int:
        return len(self.boxes)

    def select(self, index: np.ndarray) -> Detections:
        index = np.asarray(index, dtype=np.int64)
        return Detections(self.boxes[index], None if self.scores is None else self.scores[index],
                          None if self.landmarks is None else self.landmarks[index])

    def largest_first(self) -> Detections:
        return self.select(largest_first(self.boxes))

    @staticmethod
    def concatenate(parts: list[Detections], with_landmarks: bool) -> Detections:
        if not parts:
            return empty(with_landmarks)
        return Detections(np.concatenate([p.boxes for p in parts]),
                          np.concatenate([p.scores for p in parts]) if with_landmarks else None,
                          np.concatenate([p.landmarks for p in parts]) if with_landmarks else None)


def empty(with_landmarks: bool) -> Detections:
    if with_landmarks:
        return Detections(np.zeros((0, 4), np.int32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))
    return Detections(np.zeros((0, 4), np.int32))


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


def to_gray(image: np.ndarray) -> np.ndarray:
    """A uint8 2-D image from BGR, BGRA or gray input (OpenCV's channel order)."""
    image = _checked(image)
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """A uint8 3-channel BGR image from BGR, BGRA or gray input (a gray image repeated in each channel)."""
    image = _checked(image)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)


def _checked(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise DetectorError(f"expected a uint8 image, got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        raise DetectorError(f"expected a gray, BGR or BGRA image, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise DetectorError(f"expected a non-empty image, got shape {image.shape}")
    return image
