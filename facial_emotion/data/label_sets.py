"""The label sets a face can be scored against, and what a model trains on, for `labels.source`.

FER2013's single label exists for every face read from FER2013 (the 7 classes); FER+'s majority
(the 8 classes) for the faces with votes and a majority label (data/ferplus.py's rule). Training
uses one of them, chosen in params.yaml; scores are reported on every set the data has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..labels import EMOTIONS, FERPLUS_EMOTIONS, classes_for
from . import ferplus
from .dataset import FaceDataset, IngestError


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
    """What a model learns: `y` int labels or float32 [n, k] distributions, for the faces `index`."""

    classes: tuple[str, ...]
    index: np.ndarray
    y: np.ndarray
    left_out: int

    @property
    def hard_labels(self) -> np.ndarray:
        """Int labels (the distribution's most-voted class): for class weights, SMOTE and counts."""
        return self.y if self.y.ndim == 1 else self.y.argmax(axis=1)


def training_targets(dataset: FaceDataset, source: str, ferplus_target: str, where: str) -> TrainingTargets:
    """The training faces and their targets for `labels.source` / `labels.ferplus_target`."""
    if source == "fer2013":
        known = np.flatnonzero(dataset.labels >= 0)
        return TrainingTargets(classes_for(source), known, dataset.labels[known], len(dataset) - len(known))
    if not dataset.has_votes:
        label_set(dataset, source, where)  # raises the one-line error
    keep = np.flatnonzero(ferplus.trainable(dataset.votes, ferplus_target))
    y = ferplus.targets(dataset.votes[keep], ferplus_target)
    return TrainingTargets(classes_for(source), keep, y, len(dataset) - len(keep))
