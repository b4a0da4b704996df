"""What every face detector returns (`Detections`) and the error any of them raises.

Its own module so that the detectors (haar.py, yunet.py) and the crops share these types without
importing detect.py, which builds the detectors: no module imports back the one that imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PipelineError
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
