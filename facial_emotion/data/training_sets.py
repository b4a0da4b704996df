"""What a model trains on, given a balance method: the split, a resampled copy, or class weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..files import read_json
from ..paths import BALANCED_DIR, PROCESSED_DIR
from .dataset import FaceDataset, IngestError

BALANCE_METHODS = ("none", "class_weight", "smote", "flip")


@dataclass
class TrainingSet:
    data: FaceDataset
    class_weight: dict[int, float] | None
    method: str
    path: Path  # the file the faces came from (logged as the training run's dataset input)


def load_training_set(method: str, processed_dir: str | Path = PROCESSED_DIR,
                      balanced_dir: str | Path = BALANCED_DIR) -> TrainingSet:
    """Training data for one balance method, read from the preprocess and balance stages' outputs."""
    if method not in BALANCE_METHODS:
        raise IngestError(f"unknown balance method {method!r} (use one of {', '.join(BALANCE_METHODS)})")
    folder = Path(balanced_dir) / method
    if method in ("smote", "flip"):
        return TrainingSet(FaceDataset.load(folder / "train.npz"), None, method, folder / "train.npz")
    path = Path(processed_dir) / "train.npz"
    train = FaceDataset.load(path)
    if method == "class_weight":
        weights = read_json(folder / "balance.json")["class_weights"]
        return TrainingSet(train, {int(c): float(w) for c, w in weights.items()}, method, path)
    return TrainingSet(train, None, method, path)
