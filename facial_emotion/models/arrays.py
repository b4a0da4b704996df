"""The two array shapes every Keras model here takes: faces [n, 48, 48, 1] and one-hot labels."""

from __future__ import annotations

import numpy as np

from ..labels import NUM_CLASSES


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]


def as_batch(images: np.ndarray) -> np.ndarray:
    """uint8 [n, 48, 48] -> [n, 48, 48, 1], the shape every model takes."""
    return images[..., None] if images.ndim == 3 else images
