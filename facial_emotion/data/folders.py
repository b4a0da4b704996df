"""Reader for Kaggle's image-folder layout: `train/<emotion>/*.png|jpg` and `test/<emotion>/*`.

The same reader takes the layout from a folder on disk or from a zip or tar archive: both become
a list of `ImageFile`s first. Files that are not images (system files such as `Thumbs.db`, other
suffixes, dangling links) are skipped and counted by reason; linked folders are followed and
named. That layout drops FER2013's PublicTest/PrivateTest distinction: `test/` becomes PublicTest.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..labels import IMAGE_SIZE, label_for_folder
from .dataset import FaceDataset, IngestError

SPLIT_USAGE = {"train": "Training", "test": "PublicTest"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}
SYSTEM_NAMES = {"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store", "__macosx", "$recycle.bin", ".spotlight-v100",
                ".trashes", ".fseventsd"}
SKIP_REASONS = {
    "system_file": "operating-system files (Thumbs.db, desktop.ini, .DS_Store, macOS '._' forks)",
    "hidden_file": "hidden files (names starting with '.')",
    "not_an_image": f"files whose suffix is not an image's ({', '.join(sorted(IMAGE_SUFFIXES))})",
    "dangling_link": "links whose target is missing",
    "link_loop": "linked folders that lead back into a folder above them",
    "link_in_archive": "links stored inside the archive",
    "special_file": "sockets, pipes and devices",
}


def system_or_hidden(name: str) -> str | None:
    """'system_file' or 'hidden_file' for names no dataset is made of; None otherwise."""
    lower = name.lower()
    if lower in SYSTEM_NAMES or name.startswith("._"):
        return "system_file"
    return "hidden_file" if name.startswith(".") else None


def split_name(name: str) -> str | None:
    lower = name.lower()
    return lower if lower in SPLIT_USAGE else None


@dataclass(frozen=True)
class ImageFile:
    """One file of the layout: its path below the layout's root, and how to get its bytes."""

    parts: tuple[str, ...]  # (split, class folder, ..., file name)
    load: Callable[[], bytes] | None  # None: nothing to read (a dangling link)
    skip: str | None = None  # a reason from SKIP_REASONS decided while listing (links)


@dataclass
class Listing:
    """What a walk over a layout found: its files, the linked folders it followed, how to show a path."""

    files: list[ImageFile]
    show: Callable[[tuple[str, ...]], str]
    followed_links: list[str]


def to_face_array(gray: np.ndarray) -> np.ndarray:
    """A grayscale image of any size as a 48x48 uint8 face (area interpolation when shrinking)."""
    if gray.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return gray
    shrink = gray.shape[0] > IMAGE_SIZE or gray.shape[1] > IMAGE_SIZE
    return cv2.resize(gray, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def list_folder_layout(root: str | Path) -> Listing:
    """Every file under root's train/ and test/, following linked folders (named) but never in a loop."""
    root = Path(root)
    files: list[ImageFile] = []
    followed: list[str] = []

    def walk(folder: Path, parts: tuple[str, ...], above: frozenset[str]) -> None:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            here = (*parts, entry.name)
            path = Path(entry.path)
            if entry.is_symlink():
                if not path.exists():
                    files.append(ImageFile(here, None, "dangling_link"))
                    continue
                if path.is_dir():
                    real = os.path.realpath(path)
                    if real in above:
                        files.append(ImageFile(here, None, "link_loop"))
                        continue
                    followed.append(f"{path} -> {real}")
                    walk(path, here, above | {real})
                    continue
            if entry.is_dir():
                walk(path, here, above | {os.path.realpath(path)})
            elif entry.is_file():
                files.append(ImageFile(here, path.read_bytes))
            else:
                files.append(ImageFile(here, None, "special_file"))

    for split_dir in sorted(root.iterdir()):
        if split_name(split_dir.name) and split_dir.is_dir():
            if split_dir.is_symlink():
                followed.append(f"{split_dir} -> {os.path.realpath(split_dir)}")
            walk(split_dir, (split_dir.name,), frozenset({os.path.realpath(root), os.path.realpath(split_dir)}))
    return Listing(files, lambda parts: str(root.joinpath(*parts)), followed)


def read_image_folders(root: str | Path, on_bad_row: str = "error") -> tuple[FaceDataset, str]:
    """Read every image under train/ and test/; returns the dataset and a sha256 over names and bytes."""
    return read_listing(list_folder_layout(root), str(root), on_bad_row)


def read_listing(listing: Listing, root_shown: str, on_bad_row: str = "error") -> tuple[FaceDataset, str]:
    """Decode a listing's images; bad files raise or are counted (`on_bad_row`), junk is skipped and counted."""
    if on_bad_row not in ("error", "skip"):
        raise IngestError(f"ingest.on_bad_row must be 'error' or 'skip', not {on_bad_row!r}")
    show = listing.show
    rejected: Counter = Counter()
    skipped: Counter = Counter()
    digest = hashlib.sha256()
    images, labels, usage = [], [], []

    def bad(parts: tuple[str, ...], reason: str, message: str) -> None:
        if on_bad_row == "error":
            raise IngestError(f"{show(parts)}: {message}")
        rejected[reason] += 1

    for file in _in_order(listing.files):
        parts = file.parts
        reason = file.skip or _junk(parts)
        if reason:
            skipped[reason] += 1
            continue
        if file.load is None:
            skipped["dangling_link"] += 1
            continue
        if len(parts) == 2:
            bad(parts, "outside_class_folder", "file outside a class folder (expected <split>/<emotion>/<image>)")
            continue
        label = label_for_folder(parts[1])
        if label is None:
            if on_bad_row == "error":
                raise IngestError(f"{show(parts[:2])}: unknown class folder '{parts[1]}' "
                                  "(expected one of the 7 emotions)")
            rejected["unknown_class_folder"] += 1
            continue
        data = file.load()
        if not data:
            bad(parts, "empty_file", "zero-byte file")
            continue
        gray = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            bad(parts, "unreadable_image", "not a readable image")
            continue
        digest.update("/".join(parts).encode() + b"\0" + data)
        images.append(to_face_array(gray))
        labels.append(label)
        usage.append(SPLIT_USAGE[parts[0].lower()])
    if not images:
        found = f"{dict(rejected)} rejected, {dict(skipped)} skipped" if rejected or skipped else "no files"
        raise IngestError(f"{root_shown}: no readable images under train/ or test/ ({found})")
    notes = ["image-folder layout: test/ holds PublicTest and PrivateTest together and they can't be told apart; "
             "all of it is labelled PublicTest"]
    if listing.followed_links:
        notes.append(f"{len(listing.followed_links)} linked folder(s) followed: "
                     + "; ".join(listing.followed_links[:10]))
    if skipped:
        notes.append("skipped, not images: " + ", ".join(f"{n} {SKIP_REASONS[r]}" for r, n in sorted(skipped.items())))
    dataset = FaceDataset(
        images=np.stack(images).astype(np.uint8),
        labels=np.asarray(labels, dtype=np.int64),
        usage=np.asarray(usage),
        rows=np.arange(len(images), dtype=np.int64),
        rejected=rejected,
        notes=notes,
        skipped=skipped,
        followed_links=list(listing.followed_links),
    )
    return dataset, digest.hexdigest()


def _junk(parts: tuple[str, ...]) -> str | None:
    """Why a file is not part of the dataset at all (counted, never an error), or None."""
    for part in parts[1:]:
        reason = system_or_hidden(part)
        if reason:
            return reason
    if os.path.splitext(parts[-1])[1].lower() not in IMAGE_SUFFIXES:
        return "not_an_image"
    return None


def _in_order(files: Iterable[ImageFile]) -> list[ImageFile]:
    """train/ before test/, then by path: the same rows (and hash) whatever order the listing came in."""
    splits = list(SPLIT_USAGE)
    return sorted(files, key=lambda f: (splits.index(f.parts[0].lower()), f.parts[1:]))
