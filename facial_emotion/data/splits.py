"""Train / validation / test splits: FER2013's official one, the 2013 challenge's, and the first
study's exact 80/20."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import PipelineError
from ..labels import EMOTIONS, NUM_CLASSES
from .dataset import FaceDataset

class SplitError(PipelineError, ValueError):
    """A split that can't be made from the data or params given."""


@dataclass
class SplitIndices:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_is_validation: bool = False  # the study1 split has no held-out test set


def official_split(dataset: FaceDataset, val_fraction: float, seed: int) -> SplitIndices:
    """Training -> train + stratified validation; PublicTest + PrivateTest -> test."""
    training = np.flatnonzero(dataset.usage == "Training")
    test = np.flatnonzero(dataset.usage != "Training")
    if len(training) == 0 or len(test) == 0:
        raise SplitError("split.strategy 'official' needs Training and test (PublicTest/PrivateTest) rows")
    train, val = _stratified(training, dataset.labels[training], val_fraction, seed, "official", "Training")
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


def study1_split(dataset: FaceDataset, test_size: float = 0.2, seed: int = 42) -> SplitIndices:
    """The first study's split, row for row.

    It pooled every row and stratified on the one-hot label matrix. scikit-learn turns a 2-D
    `stratify` into strings per row, which orders the classes differently from integer labels:
    the counts match an integer stratification, the rows do not.
    """
    _check_stratifiable(dataset.labels, test_size, "study1", "")
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[dataset.labels]
    train, val = train_test_split(
        np.arange(len(dataset)), test_size=test_size, shuffle=True, random_state=seed, stratify=one_hot
    )
    return SplitIndices(train, val, val, test_is_validation=True)


def _check_stratifiable(labels: np.ndarray, fraction: float, strategy: str, usage: str) -> None:
    """A stratified split puts every class on both sides, so each class needs two rows and each
    side a row per class: one line saying which, instead of scikit-learn's traceback."""
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    rows = f"{usage} rows" if usage else "rows"
    lonely = [EMOTIONS[c] for c in range(NUM_CLASSES) if counts[c] == 1]
    if lonely:
        raise SplitError(f"split.strategy {strategy}: class {', '.join(lonely)} has a single one of the {len(labels)} "
                         f"{rows}, too few to stratify (a class needs 2 or more); "
                         "add data or raise data.synthetic_rows")
    classes = int((counts > 0).sum())
    held_out = int(np.ceil(fraction * len(labels)))
    if held_out < classes or len(labels) - held_out < classes:
        raise SplitError(f"split.strategy {strategy}: {len(labels)} {rows} split {fraction:g} leave fewer rows on a "
                         f"side than the {classes} classes; add data or raise data.synthetic_rows")


def _stratified(rows: np.ndarray, labels: np.ndarray, fraction: float, seed: int, strategy: str, usage: str):
    _check_stratifiable(labels, fraction, strategy, usage)
    return train_test_split(rows, test_size=fraction, shuffle=True, random_state=seed, stratify=labels)


def make_split(dataset: FaceDataset, strategy: str, val_fraction: float, seed: int) -> SplitIndices:
    """The split `split.strategy` names (official, challenge or study1; params.yaml's schema checked it)."""
    if strategy == "official":
        return official_split(dataset, val_fraction, seed)
    if strategy == "challenge":
        return challenge_split(dataset)
    if strategy == "study1":
        return study1_split(dataset, 0.2, seed)
    raise SplitError(f"unknown split strategy {strategy!r}")
