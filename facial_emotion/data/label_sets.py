"""The label sets a face can be scored against, and what a model trains on, for `labels.source`.

FER2013's single label exists for every face read from FER2013 (the 7 classes); FER+'s majority
(the 8 classes) for the faces with votes and a majority label (data/ferplus.py's rule). Training
uses one of them, chosen in params.yaml; scores are reported on every set the data has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..labels import EMOTIONS, FERPLUS_EMOTIONS
from . import ferplus
from .dataset import FaceDataset, IngestError

if TYPE_CHECKING:
    from ..params.data import LabelsSection


@dataclass(frozen=True)
class LabelSet:
    """Faces `index` of a dataset, labelled `labels` over `classes`; `left_out` counts the rest by reason."""

    name: str
    classes: tuple[str, ...]
    index: np.ndarray
    labels: np.ndarray
    left_out: dict[str, int]


def label_sets(dataset: FaceDataset) -> dict[str, LabelSet]:
    """Every label set the dataset has: fer2013 (its rows with a FER2013 label), and ferplus when it has votes."""
    known = np.flatnonzero(dataset.labels >= 0)
    sets = {"fer2013": LabelSet("fer2013", EMOTIONS, known, dataset.labels[known],
                                {"no FER2013 label": int(len(dataset) - len(known))} if len(known) < len(dataset)
                                else {})}
    if dataset.has_votes:
        majority, reasons = ferplus.majority(dataset.votes)
        index = np.flatnonzero(majority >= 0)
        sets["ferplus"] = LabelSet("ferplus", FERPLUS_EMOTIONS, index, majority[index], dict(reasons))
    return sets


def label_set(dataset: FaceDataset, source: str, where: str) -> LabelSet:
    """The set `labels.source` names; one line when the data lacks it."""
    sets = label_sets(dataset)
    if source not in sets:
        raise IngestError(f"{where}: labels.source is {source!r} but the data has no FER+ votes "
                          "(put fer2013new.csv beside FER2013 in data/raw/ and rerun ingest)")
    return sets[source]


@dataclass(frozen=True)
class TrainingTargets:
    """What a model learns: `y` int labels or float32 [n, k] distributions, for the faces `index`;
    `hard_labels` the one class per face that class weights, SMOTE and counts use."""

    classes: tuple[str, ...]
    index: np.ndarray
    y: np.ndarray
    left_out: int
    hard_labels: np.ndarray


def training_targets(dataset: FaceDataset, labels: LabelsSection, where: str) -> TrainingTargets:
    """The training faces and their targets for params.yaml's `labels` section."""
    if labels.source == "fer2013":
        known = np.flatnonzero(dataset.labels >= 0)
        hard = dataset.labels[known]
        y = hard if labels.ferplus_mix == 0 else mixed_targets(dataset, known, labels.ferplus_mix, where)
        return TrainingTargets(EMOTIONS, known, y, len(dataset) - len(known), hard)
    if not dataset.has_votes:
        label_set(dataset, labels.source, where)  # raises the one-line error
    keep = np.flatnonzero(ferplus.trainable(dataset.votes, labels.ferplus_target))
    y = ferplus.targets(dataset.votes[keep], labels.ferplus_target)
    return TrainingTargets(FERPLUS_EMOTIONS, keep, y, len(dataset) - len(keep),
                           y if y.ndim == 1 else y.argmax(axis=1))


def mixed_targets(dataset: FaceDataset, index: np.ndarray, mix: float, where: str) -> np.ndarray:
    """float32 [n, 7]: (1 - mix) * the FER2013 label + mix * FER+'s votes over the same seven classes.

    A face none of whose votes is one of the seven (contempt, unknown or not-a-face only) keeps its label alone.
    """
    if not dataset.has_votes:
        raise IngestError(f"{where}: labels.ferplus_mix is {mix} but the data has no FER+ votes "
                          "(put fer2013new.csv beside FER2013 in data/raw/ and rerun ingest)")
    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)[dataset.labels[index]]
    votes = dataset.votes[index, :len(EMOTIONS)].astype(np.float32)
    totals = votes.sum(axis=1, keepdims=True)
    shares = np.divide(votes, totals, out=one_hot.copy(), where=totals > 0)
    return ((1 - mix) * one_hot + mix * shares).astype(np.float32)
