"""Train / validation / test splits: FER2013's official one, the 2013 challenge's, and the first
study's exact 80/20."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import PipelineError
from ..labels import NUM_CLASSES
from .dataset import FaceDataset

STRATEGIES = ("official", "challenge", "seed")


class SplitError(PipelineError, ValueError):
    """A split that can't be made from the data or params given."""


@dataclass
class SplitIndices:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_is_validation: bool = False  # the seed split has no held-out test set


def official_split(dataset: FaceDataset, val_fraction: float, seed: int) -> SplitIndices:
    """Training -> train + stratified validation; PublicTest + PrivateTest -> test."""
    if not 0 < val_fraction < 1:
        raise SplitError(f"params.yaml split.val_fraction: must be between 0 and 1, not {val_fraction}")
    training = np.flatnonzero(dataset.usage == "Training")
    test = np.flatnonzero(dataset.usage != "Training")
    if len(training) == 0 or len(test) == 0:
        raise SplitError("split.strategy 'official' needs Training and test (PublicTest/PrivateTest) rows")
    train, val = train_test_split(
        training, test_size=val_fraction, shuffle=True, random_state=seed, stratify=dataset.labels[training]
    )
    return SplitIndices(np.sort(train), np.sort(val), test)


def challenge_split(dataset: FaceDataset) -> SplitIndices:
    """The 2013 challenge's protocol, used by most FER2013 papers (Khaireddin and Chen 2021 among
    them): all of Training trains, PublicTest validates and picks the epoch, PrivateTest tests.
    Against `official` the network sees every Training face (about 11% more) and the test set is
    PrivateTest alone, half the size."""
    train = np.flatnonzero(dataset.usage == "Training")
    val = np.flatnonzero(dataset.usage == "PublicTest")
    test = np.flatnonzero(dataset.usage == "PrivateTest")
    missing = [name for name, idx in (("Training", train), ("PublicTest", val), ("PrivateTest", test)) if len(idx) == 0]
    if missing:
        raise SplitError(f"split.strategy 'challenge' needs Training, PublicTest and PrivateTest rows; "
                         f"the data has no {', '.join(missing)} rows")
    return SplitIndices(train, val, test)


def seed_split(dataset: FaceDataset, test_size: float = 0.2, seed: int = 42) -> SplitIndices:
    """The first study's split, row for row.

    It pooled every row and stratified on the one-hot label matrix. scikit-learn turns a 2-D
    `stratify` into strings per row, which orders the classes differently from integer labels:
    the counts match an integer stratification, the rows do not.
    """
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[dataset.labels]
    train, val = train_test_split(
        np.arange(len(dataset)), test_size=test_size, shuffle=True, random_state=seed, stratify=one_hot
    )
    return SplitIndices(train, val, val, test_is_validation=True)


def make_split(dataset: FaceDataset, strategy: str, val_fraction: float, seed: int) -> SplitIndices:
    if strategy == "official":
        return official_split(dataset, val_fraction, seed)
    if strategy == "challenge":
        return challenge_split(dataset)
    if strategy == "seed":
        return seed_split(dataset, 0.2, seed)
    raise SplitError(f"params.yaml split.strategy: must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
