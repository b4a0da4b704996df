"""Find the input (real CSV, image folders or synthetic stand-in), read it, and summarise it."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..labels import EMOTIONS, FERPLUS_EMOTIONS, USAGES
from .archives import Archive
from .csv_layouts import CsvLayout, to_fer2013
from . import ferplus
from .dataset import FaceDataset, IngestError
from .discover import Discovery, Found, discover
from .fer_csv import gunzip_or_error, parse_fer_bytes, read_bytes, read_fer_csv
from .folders import ImageFile, Listing, read_image_folders, read_listing, split_name

log = logging.getLogger(__name__)

_EXAMPLES = 48  # row indices listed per finding, enough for a thumbnail gallery


@dataclass
class IngestResult:
    dataset: FaceDataset
    source: str  # csv | folders | synthetic
    input_path: str  # the file or folder read, with ':member' inside an archive
    sha256: str  # of the CSV's uncompressed content, of the archive file, or over a folder's names and bytes
    discovery: Discovery | None = None
    usable_usages: list[str] = field(default_factory=lambda: list(USAGES))


def ingest(raw_dir: str | Path, source: str, on_bad_row: str, synthetic_rows: int, synthetic_seed: int,
           found: Discovery | None = None, labels_source: str = "fer2013") -> IngestResult:
    """Read what `discover` chose (or `found`, when the caller discovered it first); the dataset carries
    its source and sha256 from here on, and FER+'s votes when `fer2013new.csv` is there (required by
    `labels_source` ferplus; synthetic faces get synthetic votes)."""
    found = found or discover(raw_dir, source)
    _log_discovery(found)
    if found.chosen is None:
        result = _synthetic(found, synthetic_rows, synthetic_seed)
    else:
        dataset, sha = read_found(found.chosen, on_bad_row)
        result = IngestResult(dataset, found.chosen.kind, found.chosen.shown, sha, found, found.chosen.usable_usages())
    result.dataset.source, result.dataset.sha256 = result.source, result.sha256
    _attach_votes(result, raw_dir, labels_source, synthetic_seed)
    return result


def _attach_votes(result: IngestResult, raw_dir: str | Path, labels_source: str, seed: int) -> None:
    """FER+'s votes for the faces read, checked row for row against the FER2013 file."""
    dataset, vote_file = result.dataset, ferplus.find_vote_file(raw_dir)
    if result.source == "synthetic":
        if vote_file is not None and labels_source == "ferplus":
            raise IngestError(f"{vote_file}: FER+'s votes need the FER2013 file they relabel beside them "
                              f"(labels.source is 'ferplus' but {raw_dir} holds no FER2013)")
        dataset.votes = ferplus.synthetic_votes(dataset.labels, seed)
        dataset.notes.append("SYNTHETIC FER+ votes, generated from the synthetic labels")
        return
    if vote_file is None:
        if labels_source == "ferplus":
            raise IngestError(f"{raw_dir}: labels.source is 'ferplus' but there is no fer2013new.csv here; "
                              "get it from the microsoft/FERPlus repository (docs/data.md#fer-labels)")
        return
    chosen = result.discovery.chosen if result.discovery else None
    if chosen is None or not chosen.complete:
        message = (f"{vote_file}: FER+'s votes follow fer2013.csv row for row, but {result.input_path} is not a "
                   "complete FER2013 CSV (image folders and train.csv have no such rows)")
        if labels_source == "ferplus":
            raise IngestError(message)
        dataset.notes.append(message + "; votes not used")
        log.warning("%s; votes not used", message)
        return
    votes, usage = ferplus.read_votes(vote_file)
    source_rows = len(dataset) + int(sum(dataset.rejected.values()))
    dataset.votes = ferplus.align_votes(votes, usage, source_rows, dataset.rows, dataset.usage, str(vote_file),
                                        result.input_path)
    log.info("read FER+'s votes for %d faces from %s", len(dataset), vote_file)


def _log_discovery(found: Discovery) -> None:
    if found.chosen is not None:
        log.info("reading %s", found.chosen.describe())
    for item in found.passed_over:
        (log.info if item.ignorable else log.warning)("passed over %s: %s", item.path, item.reason)


def read_found(found: Found, on_bad_row: str) -> tuple[FaceDataset, str]:
    """Read one discovered input: plain FER2013 CSVs take the fast Arrow path; the rest the exact parser."""
    if found.kind == "csv" and found.archive is None:
        if found.layout.name == "fer2013":
            return read_fer_csv(found.path, on_bad_row)
        raw = read_bytes(found.path)
        return _parse(raw, found.layout, str(found.path), on_bad_row), hashlib.sha256(raw).hexdigest()
    if found.kind == "folders" and found.archive is None:
        return read_image_folders(found.path, on_bad_row)
    archive = Archive(found.path)
    if found.kind == "csv":
        raw = next((data for _, data in archive.read(lambda name: name == found.member)), None)
        if raw is None:
            raise IngestError(f"{found.shown}: the member is gone from the archive (was it replaced meanwhile?)")
        if found.member.lower().endswith(".gz"):
            raw = gunzip_or_error(raw, found.shown)
        return _parse(raw, found.layout, found.shown, on_bad_row), archive.sha256()
    return _read_archive_folders(archive, found, on_bad_row), archive.sha256()


def _parse(raw: bytes, layout: CsvLayout, name: str, on_bad_row: str) -> FaceDataset:
    if layout.name == "fer2013":
        return parse_fer_bytes(raw, name, on_bad_row)
    converted, rejected, notes = to_fer2013(raw, layout, name, on_bad_row)
    dataset = parse_fer_bytes(converted, name, on_bad_row)
    dataset.rejected.update(rejected)
    dataset.notes = notes + dataset.notes
    return dataset


def _read_archive_folders(archive: Archive, found: Found, on_bad_row: str) -> FaceDataset:
    prefix = tuple(found.member.split("/")) if found.member else ()

    def under_split(name: str) -> bool:
        parts = tuple(name.split("/"))
        return len(parts) > len(prefix) + 1 and parts[: len(prefix)] == prefix and bool(split_name(parts[len(prefix)]))

    files = []
    for name, data in archive.read(under_split):
        parts = tuple(name.split("/"))[len(prefix):]
        files.append(ImageFile(parts, None, "link_in_archive") if data is None else
                     ImageFile(parts, lambda data=data: data))
    base = f"{archive.path}:{found.member + '/' if found.member else ''}"
    listing = Listing(files, lambda parts: base + "/".join(parts), [])
    dataset, _ = read_listing(listing, found.shown, on_bad_row)
    return dataset


def _synthetic(found: Discovery, synthetic_rows: int, synthetic_seed: int) -> IngestResult:
    from .synthetic import generate_fer_csv

    why = ("data.source is 'synthetic'" if found.source == "synthetic" else
           f"{found.raw_dir} holds no FER2013 (only README.md and .gitkeep"
           + (", and system or hidden files" if found.passed_over else "") + ")")
    log.warning("%s: generating %d SYNTHETIC faces (seed %d). Results will not mean anything about real faces; "
                "put FER2013 (e.g. fer2013.csv or Kaggle's fer2013.tar.gz) in %s for real data.",
                why, synthetic_rows, synthetic_seed, found.raw_dir)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fer2013_synthetic.csv"
        generate_fer_csv(path, synthetic_rows, synthetic_seed)
        dataset, sha = read_fer_csv(path, "error")
    dataset.notes.append(f"SYNTHETIC data: {synthetic_rows} generated faces (seed {synthetic_seed}), not FER2013")
    return IngestResult(dataset, "synthetic", f"synthetic(n_rows={synthetic_rows}, seed={synthetic_seed})", sha,
                        found)


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
    if len(dup_keys) < 64:
        groups = [order[sorted_keys == k] for k in dup_keys]
    else:
        groups = _split_groups(order, sorted_keys, dup_keys)
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def _split_groups(order: np.ndarray, sorted_keys: np.ndarray, dup_keys: np.ndarray) -> list[np.ndarray]:
    bounds = np.searchsorted(sorted_keys, dup_keys)
    ends = np.searchsorted(sorted_keys, dup_keys, side="right")
    return [order[b:e] for b, e in zip(bounds, ends)]


def _input(result: IngestResult) -> dict[str, Any]:
    """What was read: path, archive member, layout (`path` alone for synthetic data)."""
    chosen = result.discovery.chosen if result.discovery else None
    if chosen is None:
        return {"path": result.input_path, "member": None, "archive": None, "kind": result.source,
                "layout": result.source, "description": result.input_path}
    return chosen.as_json()


def summarise(result: IngestResult, blank_max_std: float) -> dict[str, Any]:
    """The ingest summary JSON: what was read, how many of each, and what looks wrong in it."""
    ds, found = result.dataset, result.discovery
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
        "input": _input(result),
        "passed_over": [{"path": p.path, "reason": p.reason} for p in found.passed_over] if found else [],
        "skipped_files": dict(sorted(ds.skipped.items())),
        "skipped_files_total": int(sum(ds.skipped.values())),
        "linked_folders_followed": list(ds.followed_links),
        "usable_usages": list(result.usable_usages),
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
            "count": len(blanks),
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
    if ds.has_votes:
        summary["ferplus"] = ferplus_summary(ds)
    if result.source == "synthetic":
        from ..tracking import SYNTHETIC_WARNING

        summary["warning"] = SYNTHETIC_WARNING
    return summary


def ferplus_summary(ds: FaceDataset) -> dict[str, Any]:
    """FER+'s majority labels per usage and class, the faces without one by reason, and how often
    they agree with FER2013's label."""
    labels, _ = ferplus.majority(ds.votes)
    out: dict[str, Any] = {"by_usage_and_class": {}, "no_majority_label": {}, "agrees_with_fer2013": {}}
    for usage in USAGES:
        here = ds.usage == usage
        out["by_usage_and_class"][usage] = {name: int((here & (labels == c)).sum())
                                            for c, name in enumerate(FERPLUS_EMOTIONS)}
        out["no_majority_label"][usage] = dict(sorted(ferplus.majority(ds.votes[here])[1].items()))
        both = here & (labels >= 0)
        out["agrees_with_fer2013"][usage] = round(float((labels[both] == ds.labels[both]).mean()), 4) if both.any() \
            else None
    return out
