"""Where frames come from: a webcam, a video file, one image or a folder of them, or the default
clip made in memory from scikit-image's bundled astronaut photograph (a real face, offline).

Every source yields BGR uint8 frames (OpenCV's order); a camera that does not open, a video or
image that cannot be read is a one-line SourceError, never an OpenCV traceback. A video that ends
before the frame count its container declares (an mp4 cut short, with its index at the front as
phones write it) is read as far as it goes, then said in one warning and in `truncated`.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import cv2
import numpy as np

from ..errors import PipelineError
from ..params import defaults
from ..params.demo import ClipSection

log = logging.getLogger(__name__)

ASTRONAUT = "astronaut"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


class SourceError(PipelineError, OSError):
    """A camera, video or image that cannot be opened or read."""


@dataclass(frozen=True)
class Frame:
    index: int
    image: np.ndarray  # BGR uint8 [h, w, 3]
    time_s: float      # seconds since the start of the source (video time, or wall clock for a camera)
    name: str          # file name for photos, "frame <i>" otherwise


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs its own multi-line warnings when a device or file fails to open; ours is one line."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class FrameSource:
    """Iterable of Frames. `live`: a camera (the demo shows a window and runs until `q`);
    `independent`: unrelated photos, so faces are not tracked from one to the next."""

    description = "frames"
    live = False
    independent = False
    fps: float | None = None
    truncated = False  # a file that ended before the frame count its container declares
    expected_frames: int | None = None  # that count, where the source has one

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AstronautClip(FrameSource):
    """Frames generated on the fly from `skimage.data.astronaut()` (bundled with scikit-image): the
    photo moved and zoomed a little, like a face before a webcam (params.yaml `demo.clip`)."""

    def __init__(self, params: ClipSection | None = None) -> None:
        from skimage import data

        self.params = params or defaults.DEMO.clip
        self.fps = self.params.fps
        self.description = f"astronaut clip ({self.params.frames} frames, {self.params.width}x{self.params.height})"
        self._photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])  # RGB -> BGR

    def frame(self, index: int) -> np.ndarray:
        """Frame `index`: a slow sideways sway, a smaller bob and a zoom in and out again."""
        p = self.params
        phase = 2 * math.pi * index / max(1, p.frames)
        zoom = 1.0 + p.zoom * 0.5 * (1 - math.cos(phase))
        photo_h, photo_w = self._photo.shape[:2]
        scale = p.height / photo_h * zoom
        dx = p.shift_px * math.sin(phase)
        dy = 0.5 * p.shift_px * math.sin(2 * phase)
        matrix = np.array([[scale, 0, p.width / 2 - scale * photo_w / 2 + dx],
                           [0, scale, p.height / 2 - scale * photo_h / 2 + dy]], dtype=np.float64)
        return cv2.warpAffine(self._photo, matrix, (p.width, p.height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT_101)

    def __iter__(self) -> Iterator[Frame]:
        for i in range(self.params.frames):
            yield Frame(i, self.frame(i), i / self.params.fps, f"frame {i}")


class _Capture(FrameSource):
    """A cv2.VideoCapture that must deliver its first frame, or the source is refused up front."""

    def __init__(self, capture: cv2.VideoCapture, failure: str) -> None:
        self._capture = capture
        with _quiet_opencv():
            ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok or first is None:
            capture.release()
            raise SourceError(failure)
        self._first = first

    def _frames(self) -> Iterator[np.ndarray]:
        first, self._first = self._first, None
        if first is not None:
            yield _as_bgr(first)
        while True:
            ok, image = self._capture.read()
            if not ok:
                return
            yield _as_bgr(image)

    def close(self) -> None:
        self._capture.release()


class Camera(_Capture):
    live = True

    def __init__(self, index: int, width: int = 640, height: int = 480) -> None:
        with _quiet_opencv():
            capture = cv2.VideoCapture(index)
            if capture.isOpened():
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        super().__init__(capture, f"camera {index} could not be opened "
                                  "(no camera at that index, or another program is using it)")
        self.description = f"camera {index}"

    def __iter__(self) -> Iterator[Frame]:
        start = time.perf_counter()
        for i, image in enumerate(self._frames()):
            yield Frame(i, image, time.perf_counter() - start, f"frame {i}")


class VideoFile(_Capture):
    def __init__(self, path: Path) -> None:
        with _quiet_opencv():
            capture = cv2.VideoCapture(str(path))
        super().__init__(capture, f"{path}: cannot read video (not a video file, or a codec OpenCV lacks)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 and math.isfinite(fps) else 30.0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.expected_frames = int(count) if count and count > 0 and math.isfinite(count) else None
        self.path = path
        self.description = f"video {path}"

    def __iter__(self) -> Iterator[Frame]:
        read = 0
        for i, image in enumerate(self._frames()):
            read = i + 1
            yield Frame(i, image, i / self.fps, f"frame {i}")
        self.check_complete(read)  # only once the file is exhausted: a reader that stops early judges nothing

    def check_complete(self, read: int) -> None:
        """Compare the frames read to the end with the container's count (1 % slack for containers
        that estimate it from their duration); fewer is a truncated file, said once."""
        expected = self.expected_frames
        if expected is None or read >= expected - max(1, round(0.01 * expected)):
            return
        self.truncated = True
        log.warning("%s ends early: %d of the %d frames (%.1f of %.1f s) its container declares could be read; "
                    "the file is truncated or damaged", self.path, read, expected, read / self.fps,
                    expected / self.fps)


class Images(FrameSource):
    """One photo or every photo in a folder (sorted by name); each stands alone."""

    independent = True

    def __init__(self, paths: list[Path], description: str) -> None:
        self.paths = paths
        self.description = description

    def __iter__(self) -> Iterator[Frame]:
        for i, path in enumerate(self.paths):
            yield Frame(i, read_image(path), float(i), path.name)


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image from a file, or a SourceError naming it."""
    with _quiet_opencv():
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError(f"{path}: cannot read image (not an image, or a format OpenCV lacks)")
    return image


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def open_source(spec: str | int, clip: ClipSection | None = None) -> FrameSource:
    """`0`, `1`, ...: a webcam; `astronaut`: the default clip; a folder: its images; an image file;
    any other file: a video."""
    text = str(spec).strip()
    if text.isdigit():
        return Camera(int(text))
    if text == ASTRONAUT:
        return AstronautClip(clip)
    path = Path(text).expanduser()
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise SourceError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return Images(images, f"{len(images)} images in {path}")
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder "
                          f"(a source is a camera index, a video, an image, a folder or '{ASTRONAUT}')")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return Images([path], f"image {path}")
    return VideoFile(path)
