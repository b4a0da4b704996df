"""The images a detector takes (uint8 gray, BGR or BGRA, OpenCV's channel order) and the
conversions each detector needs: Haar scans gray, YuNet reads BGR. The service and the API use
the same ones, so an image is checked and converted one way everywhere."""

from __future__ import annotations

import cv2
import numpy as np

from .detections import DetectorError


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
