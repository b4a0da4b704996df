"""What the `facial-emotion` command reads: photos, folders (searched recursively), videos and glob
patterns, expanded into a sorted list of files; each photo read alone, each video frame by frame.

A file that cannot be read is reported with its reason and the run goes on; only an argument that
names nothing (no such file, a pattern that matches nothing) stops the command before it starts.
"""

from __future__ import annotations

import glob
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import PipelineError
from ..faces.sources import IMAGE_SUFFIXES, SourceError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif")


class InputError(PipelineError, FileNotFoundError):
    """An argument that names no file: a missing path, or a pattern that matches nothing."""


@dataclass
class Inputs:
    photos: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # files in a folder that are neither photos nor videos


def kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "photo"
    return None


def expand(specs: list[str]) -> Inputs:
    """Files named, found in folders, or matched by patterns; each file once, in the order given
    (a folder's or a pattern's files sorted by path). A file named directly is read whatever its
    suffix, as a photo unless it has a video's suffix."""
    found = Inputs()
    seen: set[Path] = set()

    def add(path: Path, named: bool) -> None:
        if path in seen:
            return
        seen.add(path)
        what = kind(path)
        if what == "video":
            found.videos.append(path)
        elif what == "photo" or named:
            found.photos.append(path)
        else:
            found.ignored.append(path)

    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                add(child, named=False)
        elif path.is_file():
            add(path, named=True)
        elif glob.has_magic(spec):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"{spec}: the pattern matches no file")
            for match in matches:
                add(match, named=False)
        else:
            raise InputError(f"{spec}: no such file or folder")
    return found


class Video:
    """A video's frames (every `step`-th), with the frame count known up front for the progress bar."""

    def __init__(self, path: Path, step: int = 1) -> None:
        self.path, self.step = path, max(1, int(step))
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"{path}: cannot read video (not a video file, or a codec OpenCV lacks)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 and math.isfinite(fps) else None
        count = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frames = int(count) if count and count > 0 and math.isfinite(count) else None

    @property
    def expected(self) -> int | None:
        """How many frames will be analysed (every step-th), when the container says how many it has."""
        return None if self.frames is None else -(-self.frames // self.step)

    def __iter__(self) -> Iterator[tuple[int, float | None, np.ndarray]]:
        index = 0
        try:
            while True:
                ok, image = self._capture.read()
                if not ok or image is None:
                    break
                if index % self.step == 0:
                    yield index, (None if self.fps is None else index / self.fps), image
                index += 1
        finally:
            self._capture.release()
        if index == 0:
            raise SourceError(f"{self.path}: cannot read video (no frame could be decoded)")
