"""The numbers behind the EDA report: class balance, samples, mean faces, pixel intensities.

Everything is vectorised and O(n) in the number of images, in bounded chunks, so the full
FER2013 (35,887 faces) takes about a second and never holds a float copy of the whole set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.dataset import FaceDataset
from ..errors import PipelineError
from ..labels import EMOTIONS, NUM_CLASSES, USAGES

_CHUNK = 4096  # images per vectorised block: ~40 MB of float32 at 48x48
_LEVELS = np.arange(256, dtype=np.float64)


class EdaError(PipelineError, ValueError):
    """The interim data and the ingest summary disagree (one of them is stale)."""


def check_matches_summary(dataset: FaceDataset, summary: dict[str, Any], faces_path: str, summary_path: str) -> None:
    """Fail in one line when the summary describes other data than the faces file (stale output)."""
    sha = summary.get("sha256")
    if sha is not None and sha != dataset.sha256:
        raise EdaError(f"{summary_path}: sha256 {sha[:12]}... does not match {faces_path} "
                       f"({dataset.sha256[:12]}...); rerun `dvc repro ingest`")
    rows = summary.get("rows")
    if rows is not None and rows != len(dataset):
        raise EdaError(f"{summary_path}: says {rows} rows but {faces_path} holds {len(dataset)}; "
                       "rerun `dvc repro ingest`")
    listed = list(summary.get("blank_images", {}).get("indices", []))
    for group in summary.get("duplicate_images", {}).get("examples", []):
        listed.extend(group)
    bad = [i for i in listed if not 0 <= int(i) < len(dataset)]
    if bad:
        raise EdaError(f"{summary_path}: image index {bad[0]} is outside {faces_path} (0..{len(dataset) - 1})")


def class_counts(labels: np.ndarray, usage: np.ndarray) -> pd.DataFrame:
    """Images per class (rows) and usage (columns), with the total and each class's share."""
    usages = [u for u in USAGES if (usage == u).any()] or list(USAGES)
    table = pd.DataFrame(
        {u: np.bincount(labels[usage == u], minlength=NUM_CLASSES) for u in usages},
        index=pd.Index(EMOTIONS, name="class"),
    )
    table["total"] = table[usages].sum(axis=1)
    total = int(table["total"].sum())
    table["share %"] = (100.0 * table["total"] / total).round(1) if total else 0.0
    return table


def imbalance_ratio(counts: np.ndarray) -> float | None:
    """Largest class over smallest (FER2013: happiness/disgust is about 16); None if a class is empty."""
    counts = np.asarray(counts)
    return None if counts.min() == 0 else float(counts.max() / counts.min())


def sample_indices(labels: np.ndarray, per_class: int, seed: int) -> list[np.ndarray]:
    """Up to `per_class` random image indices for each class, reproducible from the seed."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in range(NUM_CLASSES):
        members = np.flatnonzero(labels == c)
        picks.append(rng.choice(members, size=min(per_class, len(members)), replace=False) if len(members) else members)
    return picks


def mean_faces(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Average image per class, float64 [7, 48, 48] on the 0-255 scale (NaN for an empty class)."""
    means = np.full((NUM_CLASSES, *images.shape[1:]), np.nan)
    for c in range(NUM_CLASSES):
        members = labels == c
        if members.any():
            means[c] = images[members].mean(axis=0, dtype=np.float64)
    return means


@dataclass
class PixelStatistics:
    image_mean: np.ndarray  # float32 [n]: brightness of each image
    image_std: np.ndarray  # float32 [n]: contrast of each image (what the blank rule thresholds)
    histogram: np.ndarray  # int64 [7, 256]: pixel-value counts per class

    @property
    def overall_histogram(self) -> np.ndarray:
        return self.histogram.sum(axis=0)

    @staticmethod
    def _moments(hist: np.ndarray) -> tuple[float, float]:
        n = hist.sum()
        if n == 0:
            return float("nan"), float("nan")
        mean = float((hist * _LEVELS).sum() / n)
        var = float((hist * _LEVELS**2).sum() / n - mean**2)
        return mean, float(np.sqrt(max(var, 0.0)))

    @property
    def mean(self) -> float:
        return self._moments(self.overall_histogram)[0]

    @property
    def std(self) -> float:
        return self._moments(self.overall_histogram)[1]

    def per_class_table(self, labels: np.ndarray) -> pd.DataFrame:
        """Pixel mean/std and per-image brightness/contrast medians, per class and overall."""
        rows = []
        for name, hist, members in [
            *((EMOTIONS[c], self.histogram[c], labels == c) for c in range(NUM_CLASSES)),
            ("all", self.overall_histogram, np.ones(len(labels), dtype=bool)),
        ]:
            mean, std = self._moments(hist)
            has = bool(members.any())
            rows.append({
                "class": name,
                "images": int(members.sum()),
                "pixel mean": mean,
                "pixel std": std,
                "median image brightness": float(np.median(self.image_mean[members])) if has else float("nan"),
                "median image contrast": float(np.median(self.image_std[members])) if has else float("nan"),
            })
        return pd.DataFrame(rows).set_index("class").round(1)


def pixel_statistics(images: np.ndarray, labels: np.ndarray, chunk: int = _CHUNK) -> PixelStatistics:
    """Per-image brightness and contrast and per-class pixel histograms, in bounded chunks."""
    n = len(images)
    image_mean = np.empty(n, dtype=np.float32)
    image_std = np.empty(n, dtype=np.float32)
    histogram = np.zeros(NUM_CLASSES * 256, dtype=np.int64)
    pixels_per_image = int(np.prod(images.shape[1:]))
    for start in range(0, n, chunk):
        block = images[start : start + chunk].reshape(-1, pixels_per_image)
        as_float = block.astype(np.float32)
        image_mean[start : start + len(block)] = as_float.mean(axis=1)
        image_std[start : start + len(block)] = as_float.std(axis=1)
        keys = labels[start : start + chunk, None].astype(np.int64) * 256 + block
        histogram += np.bincount(keys.ravel(), minlength=NUM_CLASSES * 256)
    return PixelStatistics(image_mean, image_std, histogram.reshape(NUM_CLASSES, 256))


def figures_summary(dataset: FaceDataset, summary: dict[str, Any], pixels: PixelStatistics,
                    mlflow_run_id: str = "") -> dict[str, Any]:
    """The flat JSON DVC tracks as metrics: counts, imbalance, pixel moments, blanks, duplicates."""
    counts = np.bincount(dataset.labels, minlength=NUM_CLASSES)
    ratio = imbalance_ratio(counts)
    duplicates = summary.get("duplicate_images", {})
    figures: dict[str, Any] = {
        "rows": len(dataset),
        "synthetic": dataset.is_synthetic,
        **{f"count_{name}": int(n) for name, n in zip(EMOTIONS, counts)},
        **{f"rows_{u}": int((dataset.usage == u).sum()) for u in USAGES},
        "smallest_class": EMOTIONS[int(np.argmin(counts))],
        "largest_class": EMOTIONS[int(np.argmax(counts))],
        "imbalance_ratio": None if ratio is None else round(ratio, 3),
        "pixel_mean": round(pixels.mean, 3),
        "pixel_std": round(pixels.std, 3),
        "blank_images": int(summary.get("blank_images", {}).get("count", 0)),
        "duplicate_groups": int(duplicates.get("groups", 0)),
        "duplicate_copies": int(duplicates.get("extra_copies", 0)),
        "duplicate_groups_conflicting_labels": int(duplicates.get("groups_with_conflicting_labels", 0)),
        "duplicate_groups_across_usages": int(duplicates.get("groups_across_usages", 0)),
    }
    if mlflow_run_id:
        figures["mlflow_run_id"] = mlflow_run_id
    return figures
