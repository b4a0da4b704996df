"""Model input from a face box: a square around the face, optionally turned upright by the eyes,
shrunk to 48x48 with area interpolation (as FER2013's faces were).

The square is the box's longer side plus `margin` of it on every side, centred `shift` of that side
below the box centre. Each detector has its own values because their boxes frame faces differently;
YuNet's are measured (benchmarks/face_framing.py) so that the eyes land where they sit, on
average, in FER2013's frames. With `align`, the face is first rotated about the square's centre so
the line between the eyes is level: FER2013's faces are mostly upright, webcam faces often tilt.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..labels import IMAGE_SIZE
from ..params.demo import CropParams
from .detections import Detections

RIGHT_EYE, LEFT_EYE = 0, 1  # YuNet's landmark order: the subject's right eye is on the image's left


def square(box: np.ndarray, crop: CropParams) -> tuple[float, float, float]:
    """(centre x, centre y, side) of the crop square for a face box (x, y, w, h)."""
    x, y, w, h = (float(v) for v in box)
    longer = max(w, h)
    return x + w / 2, y + h / 2 + crop.shift * longer, longer * (1 + 2 * crop.margin)


def square_region(box: np.ndarray, crop: CropParams) -> tuple[int, int, int, int]:
    """The crop square in whole pixels, as (x0, y0, x1, y1); it may leave the frame."""
    cx, cy, side = square(box, crop)
    size = max(1, int(round(side)))
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    return x0, y0, x0 + size, y0 + size


def crop_region(image: np.ndarray, box: np.ndarray, crop: CropParams) -> np.ndarray:
    """The crop square cut from `image` (any channels) at full resolution; parts outside the frame
    are filled by repeating the edge, so a face at the border keeps its shape instead of being squashed."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = square_region(box, crop)
    inside = image[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    pads = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
    if not inside.size:  # the square lies wholly outside the frame: nothing of the face to show
        return np.zeros((y1 - y0, x1 - x0, *image.shape[2:]), dtype=image.dtype)
    if any(pads):
        inside = cv2.copyMakeBorder(inside, *pads, borderType=cv2.BORDER_REPLICATE)
    return inside


def eye_angle(landmarks: np.ndarray) -> float:
    """Degrees the face is turned in the image plane: positive when the eye on the image's right
    is lower (a clockwise tilt on screen); 0 for level eyes."""
    (rx, ry), (lx, ly) = landmarks[RIGHT_EYE], landmarks[LEFT_EYE]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def upright_region(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray, crop: CropParams) -> np.ndarray:
    """The crop square after turning the image about the square's centre so the eyes are level."""
    cx, cy, side = square(box, crop)
    size = max(1, int(round(side)))
    rotation = cv2.getRotationMatrix2D((cx, cy), eye_angle(landmarks), 1.0)
    rotation[:, 2] += (size / 2 - cx, size / 2 - cy)  # the square's centre lands in the output's centre
    return cv2.warpAffine(image, rotation, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_faces(gray: np.ndarray, faces: Detections, crop: CropParams, align: bool = False,
               size: int = IMAGE_SIZE) -> np.ndarray:
    """Model input: uint8 [n, size, size] crops of `gray`, upright by the eyes when `align` (then
    `faces` must carry landmarks)."""
    if align and faces.landmarks is None and len(faces):
        raise ValueError("align needs landmarks; this detector gives none")
    crops = np.empty((len(faces), size, size), dtype=np.uint8)
    for i, box in enumerate(faces.boxes):
        region = upright_region(gray, box, faces.landmarks[i], crop) if align else crop_region(gray, box, crop)
        crops[i] = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
    return crops
