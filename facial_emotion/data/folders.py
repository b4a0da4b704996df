"""Reader for Kaggle's image-folder layout: `train/<emotion>/*.png|jpg` and `test/<emotion>/*`.

That layout drops FER2013's PublicTest/PrivateTest distinction: `test/` becomes PublicTest.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from ..labels import IMAGE_SIZE, label_for_folder
from .dataset import FaceDataset, IngestError

SPLIT_USAGE = {"train": "Training", "test": "PublicTest"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}


def has_folder_layout(root: Path) -> bool:
    return (root / "train").is_dir() or (root / "test").is_dir()


def to_face_array(gray: np.ndarray) -> np.ndarray:
    """A grayscale image of any size as a 48x48 uint8 face (area interpolation when shrinking)."""
    if gray.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return gray
    shrink = gray.shape[0] > IMAGE_SIZE or gray.shape[1] > IMAGE_SIZE
    return cv2.resize(gray, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def read_image_folders(root: str | Path, on_bad_row: str = "error") -> tuple[FaceDataset, str]:
    """Read every image under train/ and test/; returns the dataset and a sha256 over names and bytes."""
    root = Path(root)
    if on_bad_row not in ("error", "skip"):
        raise IngestError(f"ingest.on_bad_row must be 'error' or 'skip', not {on_bad_row!r}")
    rejected: Counter = Counter()
    digest = hashlib.sha256()
    images, labels, usage = [], [], []

    def bad(path: Path, reason: str, message: str) -> None:
        if on_bad_row == "error":
            raise IngestError(f"{path}: {message}")
        rejected[reason] += 1

    for split, usage_name in SPLIT_USAGE.items():
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        for entry in sorted(split_dir.iterdir()):
            if entry.name.startswith("."):
                continue
            if not entry.is_dir():
                bad(entry, "outside_class_folder", "file outside a class folder (expected <split>/<emotion>/<image>)")
                continue
            label = label_for_folder(entry.name)
            if label is None:
                count = sum(1 for p in entry.rglob("*") if p.is_file())
                if on_bad_row == "error":
                    raise IngestError(f"{entry}: unknown class folder '{entry.name}' (expected one of the 7 emotions)")
                rejected["unknown_class_folder"] += count
                continue
            for path in sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith(".")):
                data = path.read_bytes()
                if not data:
                    bad(path, "empty_file", "zero-byte file")
                    continue
                gray = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
                if gray is None:
                    bad(path, "unreadable_image", "not a readable image")
                    continue
                digest.update(str(path.relative_to(root)).encode() + b"\0" + data)
                images.append(to_face_array(gray))
                labels.append(label)
                usage.append(usage_name)
    if not images:
        raise IngestError(f"{root}: no readable images under train/ or test/ ({dict(rejected)} rejected)")
    dataset = FaceDataset(
        images=np.stack(images).astype(np.uint8),
        labels=np.asarray(labels, dtype=np.int64),
        usage=np.asarray(usage),
        rows=np.arange(len(images), dtype=np.int64),
        rejected=rejected,
        notes=["image-folder layout: test/ holds PublicTest and PrivateTest together and they can't be told apart; "
               "all of it is labelled PublicTest"],
    )
    return dataset, digest.hexdigest()
