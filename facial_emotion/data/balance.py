"""Rebalancing the training split only: class weights, SMOTE, and flips of the weakest classes.

Validation and test are never resampled: their class mix is the one a deployed model meets.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from ..errors import PipelineError
from ..labels import EMOTIONS, label_for_folder

log = logging.getLogger(__name__)


class BalanceError(PipelineError, ValueError):
    """Resampling that can't be done with the data and params given."""


def balanced_class_weights(labels: np.ndarray) -> dict[int, float]:
    """scikit-learn's `balanced` weights on the labels actually trained on (n / (k * count))."""
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    return {int(c): float(w) for c, w in zip(present, weights)}


def smote(images: np.ndarray, labels: np.ndarray, k_neighbors: int, sampling_strategy, seed: int,
          reduce_k: bool = False, classes: tuple[str, ...] = EMOTIONS) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE on flattened uint8 faces; synthetic samples rounded back to uint8 images.

    SMOTE needs more than k_neighbors samples per minority class. With `reduce_k` the
    neighbour count drops to what the smallest class allows (logged); otherwise that's an error.
    """
    from imblearn.over_sampling import SMOTE

    counts = np.bincount(labels, minlength=len(classes))
    present = np.flatnonzero(counts)
    smallest = int(present[np.argmin(counts[present])])
    if counts[smallest] <= k_neighbors:
        if not reduce_k or counts[smallest] < 2:
            raise BalanceError(
                f"SMOTE: class '{classes[smallest]}' has {counts[smallest]} training samples, "
                f"needs more than balance.smote.k_neighbors={k_neighbors} "
                "(lower it, or set balance.smote.reduce_k: true)"
            )
        new_k = int(counts[smallest]) - 1
        log.warning("SMOTE: class '%s' has only %d samples; k_neighbors reduced from %d to %d",
                    classes[smallest], counts[smallest], k_neighbors, new_k)
        k_neighbors = new_k
    flat = images.reshape(len(images), -1).astype(np.float32)  # float32 halves SMOTE's peak memory
    sampler = SMOTE(sampling_strategy=sampling_strategy, k_neighbors=k_neighbors, random_state=seed)
    resampled, new_labels = sampler.fit_resample(flat, labels)
    out = np.clip(np.rint(resampled), 0, 255).astype(np.uint8).reshape(-1, *images.shape[1:])
    return out, new_labels.astype(np.int64)


def class_indices(names: list[str]) -> list[int]:
    """Class names (any alias) from params -> label indices; unknown names are an error."""
    indices = []
    for name in names:
        label = label_for_folder(str(name))
        if label is None:
            raise BalanceError(f"params.yaml balance.flip_classes: unknown class '{name}' "
                               f"(use one of {', '.join(EMOTIONS)})")
        indices.append(label)
    return indices


def add_flips(images: np.ndarray, labels: np.ndarray, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The second study's augmentation: append a mirrored copy of every image of the given classes."""
    chosen = np.isin(labels, classes)
    flipped = images[chosen][:, :, ::-1]
    return np.concatenate([images, flipped]), np.concatenate([labels, labels[chosen]])
