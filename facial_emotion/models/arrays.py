"""The two array shapes every Keras model here takes: faces [n, 48, 48, 1] and one-hot (or soft) targets."""

from __future__ import annotations

import numpy as np

from ..labels import NUM_CLASSES


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels]


def as_targets(y: np.ndarray, num_classes: int) -> np.ndarray:
    """What the loss compares with: int labels one-hot, or float distributions [n, k] as they are
    (FER+'s vote distribution: cross-entropy against all ten annotators, not just the majority)."""
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != num_classes:
            raise ValueError(f"targets have {y.shape[1]} classes, the model {num_classes}")
        return y.astype(np.float32)
    return one_hot(y, num_classes)


def as_batch(images: np.ndarray) -> np.ndarray:
    """uint8 [n, 48, 48] -> [n, 48, 48, 1], the shape every model takes."""
    return images[..., None] if images.ndim == 3 else images
