"""Pick the input (real CSV, image folders or synthetic stand-in), read it, and summarise it."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..labels import EMOTIONS, USAGES
from .dataset import FaceDataset, IngestError
from .fer_csv import read_fer_csv
from .folders import has_folder_layout, read_image_folders

log = logging.getLogger(__name__)

CSV_NAMES = ("fer2013.csv", "fer2013.csv.gz")
SOURCES = ("auto", "csv", "folders", "synthetic")
_EXAMPLES = 48  # row indices listed per finding, enough for a thumbnail gallery


@dataclass
class IngestResult:
    dataset: FaceDataset
    source: str  # csv | folders | synthetic
    input_path: str
    sha256: str


def find_csv(raw_dir: Path) -> Path | None:
    for name in CSV_NAMES:
        if (raw_dir / name).is_file():
            return raw_dir / name
    return None


def resolve_source(raw_dir: Path, source: str) -> str:
    """`auto` becomes csv, folders or synthetic by what data/raw/ holds; explicit choices are checked."""
    if source not in SOURCES:
        raise IngestError(f"params.yaml data.source: must be one of {', '.join(SOURCES)}, not {source!r}")
    if source == "auto":
        if find_csv(raw_dir):
            return "csv"
        if has_folder_layout(raw_dir):
            return "folders"
        return "synthetic"
    if source == "csv" and not find_csv(raw_dir):
        raise IngestError(f"{raw_dir}: data.source is 'csv' but neither fer2013.csv nor fer2013.csv.gz is there")
    if source == "folders" and not has_folder_layout(raw_dir):
        raise IngestError(f"{raw_dir}: data.source is 'folders' but there is no train/ or test/ folder")
    return source


def ingest(raw_dir: str | Path, source: str, on_bad_row: str, synthetic_rows: int, synthetic_seed: int) -> IngestResult:
    """Read the chosen source; the dataset carries its source and sha256 from here on."""
    result = _read(Path(raw_dir), resolve_source(Path(raw_dir), source), on_bad_row, synthetic_rows, synthetic_seed)
    result.dataset.source, result.dataset.sha256 = result.source, result.sha256
    return result


def _read(raw_dir: Path, source: str, on_bad_row: str, synthetic_rows: int, synthetic_seed: int) -> IngestResult:
    if source == "csv":
        path = find_csv(raw_dir)
        dataset, sha = read_fer_csv(path, on_bad_row)
        return IngestResult(dataset, "csv", str(path), sha)
    if source == "folders":
        dataset, sha = read_image_folders(raw_dir, on_bad_row)
        return IngestResult(dataset, "folders", str(raw_dir), sha)
    from .synthetic import generate_fer_csv

    log.warning("No FER2013 in %s: generating %d SYNTHETIC faces (seed %d). Results will not mean anything "
                "about real faces; put fer2013.csv in %s for real data.", raw_dir, synthetic_rows, synthetic_seed, raw_dir)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fer2013_synthetic.csv"
        generate_fer_csv(path, synthetic_rows, synthetic_seed)
        dataset, sha = read_fer_csv(path, "error")
    dataset.notes.append(f"SYNTHETIC data: {synthetic_rows} generated faces (seed {synthetic_seed}), not FER2013")
    return IngestResult(dataset, "synthetic", f"synthetic(n_rows={synthetic_rows}, seed={synthetic_seed})", sha)


def blank_images(images: np.ndarray, max_std: float) -> np.ndarray:
    """Indices of images with (almost) no contrast: FER2013 has all-black and placeholder frames."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    return np.flatnonzero(flat.std(axis=1) <= max_std)


def duplicate_groups(images: np.ndarray) -> list[np.ndarray]:
    """Groups (of indices, in order) of byte-identical images, largest first."""
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    keys = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    dup_keys = np.flatnonzero(counts > 1)
    if len(dup_keys) == 0:
        return []
    order = np.argsort(inverse, kind="stable")
    sorted_keys = inverse[order]
    groups = [order[sorted_keys == k] for k in dup_keys] if len(dup_keys) < 64 else _split_groups(order, sorted_keys, dup_keys)
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def _split_groups(order: np.ndarray, sorted_keys: np.ndarray, dup_keys: np.ndarray) -> list[np.ndarray]:
    bounds = np.searchsorted(sorted_keys, dup_keys)
    ends = np.searchsorted(sorted_keys, dup_keys, side="right")
    return [order[b:e] for b, e in zip(bounds, ends)]


def summarise(result: IngestResult, blank_max_std: float) -> dict[str, Any]:
    """The ingest summary JSON: what was read, how many of each, and what looks wrong in it."""
    ds = result.dataset
    by_usage_class = {
        usage: {EMOTIONS[c]: int(((ds.usage == usage) & (ds.labels == c)).sum()) for c in range(len(EMOTIONS))}
        for usage in USAGES
    }
    blanks = blank_images(ds.images, blank_max_std)
    groups = duplicate_groups(ds.images)
    conflicting = sum(1 for g in groups if len(set(ds.labels[g].tolist())) > 1)
    across = sum(1 for g in groups if len(set(ds.usage[g].tolist())) > 1)
    summary: dict[str, Any] = {
        "source": result.source,
        "synthetic": result.source == "synthetic",
        "input": result.input_path,
        "sha256": result.sha256,
        "rows": len(ds),
        "by_class": {EMOTIONS[c]: int((ds.labels == c).sum()) for c in range(len(EMOTIONS))},
        "by_usage": {usage: int((ds.usage == usage).sum()) for usage in USAGES},
        "by_usage_and_class": by_usage_class,
        "rejected": dict(sorted(ds.rejected.items())),
        "rejected_total": int(sum(ds.rejected.values())),
        "notes": list(ds.notes),
        "blank_images": {
            "rule": f"pixel standard deviation <= {blank_max_std}",
            "count": int(len(blanks)),
            "indices": blanks[:_EXAMPLES].tolist(),
        },
        "duplicate_images": {
            "groups": len(groups),
            "extra_copies": int(sum(len(g) - 1 for g in groups)),
            "groups_with_conflicting_labels": conflicting,
            "groups_across_usages": across,
            "examples": [g[:6].tolist() for g in groups[:_EXAMPLES // 2]],
        },
    }
    if result.source == "synthetic":
        from ..tracking import SYNTHETIC_WARNING

        summary["warning"] = SYNTHETIC_WARNING
    return summary
