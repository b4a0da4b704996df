"""What a demo run leaves behind, written into a staging folder and swapped into place whole at
the end, so an interrupted run never leaves a half-written reports/demo/ for DVC to cache:

    crops/face<id>_frame<n>_<emotion>_<confidence>.png   a crop whenever a face's label is set or changes
    grid.png          a seeded sample of those crops, in rows of `columns`
    timeline.json     per face: emotion segments with start and end (frame and seconds)
    frames.csv        one row per face per frame (a row with no face when none is shown)
    summary.json      fps and latency (median, p95), counts, model and source
    preview.png       the annotated frame that showed the most faces
    annotated.mp4     optional: every annotated frame
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import PipelineError, raise_if_stopped
from ..files import write_json
from ..labels import EMOTIONS, class_names
from .crops import crop_region
from ..params.demo import CropParams
from .render import captioned_crop, label_colour, label_text, make_grid, placeholder
from .sources import Frame
from .tracker import FaceState

CROPS = "crops"
GRID = "grid.png"
TIMELINE = "timeline.json"
FRAMES_CSV = "frames.csv"
SUMMARY = "summary.json"
PREVIEW = "preview.png"
def csv_columns(classes: tuple[str, ...] = EMOTIONS) -> list[str]:
    """frames.csv's header: one probability column per class of the model."""
    return ["frame", "time_s", "name", "latency_ms", "full_scan", "face_id", "x", "y", "w", "h", "label",
            "confidence", "raw_label", "raw_confidence", *(f"p_{e}" for e in classes), "uncertain"]


class OutputError(PipelineError, OSError):
    """An output file that cannot be written (disk full, bad path, no video codec)."""


def write_image(path: Path, image: np.ndarray) -> None:
    """PNG/JPEG by extension, raising instead of cv2.imwrite's silent False."""
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise OutputError(f"{path}: cannot encode image")
    path.write_bytes(encoded.tobytes())


class StagedDir:
    """A temporary folder beside `target` that replaces it in one rename on commit."""

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".partial", dir=self.target.parent))
        self.path.chmod(0o755)  # mkdtemp's 0700 would outlive the rename

    def commit(self) -> None:
        raise_if_stopped()
        old = None
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.{os.getpid()}.old")
            os.replace(self.target, old)
        os.replace(self.path, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class VideoOut:
    """Annotated frames to an mp4 under a temporary name, renamed into place on close(success)."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._writer: cv2.VideoWriter | None = None

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            height, width = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self._writer.isOpened():
                raise OutputError(f"{self.path}: cannot write video (OpenCV has no mp4v encoder here)")
        self._writer.write(image)

    def close(self, success: bool) -> None:
        if self._writer is not None:
            self._writer.release()
        try:
            if success and self._tmp.exists():
                raise_if_stopped()
                os.replace(self._tmp, self.path)
        finally:
            if self._tmp.exists():
                self._tmp.unlink()


@dataclass
class _Segment:
    emotion: str
    start_frame: int
    start_s: float
    end_frame: int
    end_s: float
    frames: int = 1
    confidence_sum: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"emotion": self.emotion, "start_frame": self.start_frame, "end_frame": self.end_frame,
                "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "frames": self.frames,
                "mean_confidence": round(self.confidence_sum / self.frames, 4)}


@dataclass
class _FaceTimeline:
    face_id: int
    first_seen: str
    segments: list[_Segment] = field(default_factory=list)


class Timeline:
    """Per face, the run of steady labels: a new segment whenever the shown label changes."""

    def __init__(self) -> None:
        self._faces: dict[int, _FaceTimeline] = {}

    def add(self, frame: Frame, states: list[FaceState]) -> None:
        for state in states:
            face = self._faces.setdefault(state.track_id, _FaceTimeline(state.track_id, frame.name))
            emotion = class_names(len(state.probs))[state.label]
            if state.changed or not face.segments or face.segments[-1].emotion != emotion:
                face.segments.append(_Segment(emotion, frame.index, frame.time_s, frame.index, frame.time_s, 0))
            segment = face.segments[-1]
            segment.end_frame, segment.end_s = frame.index, frame.time_s
            segment.frames += 1
            segment.confidence_sum += state.confidence

    def as_dict(self) -> dict[str, Any]:
        faces = []
        for face in self._faces.values():
            faces.append({"face_id": face.face_id, "first_seen_in": face.first_seen,
                          "start_frame": face.segments[0].start_frame, "end_frame": face.segments[-1].end_frame,
                          "start_s": round(face.segments[0].start_s, 3), "end_s": round(face.segments[-1].end_s, 3),
                          "label_changes": len(face.segments) - 1,
                          "segments": [s.as_dict() for s in face.segments]})
        return {"faces": faces}

    @property
    def label_changes(self) -> int:
        return sum(len(face.segments) - 1 for face in self._faces.values())


class DemoRecorder:
    """Collects a run's crops, rows and timeline in a staging folder; `finish` writes the rest and
    swaps the folder into place, `abort` drops it."""

    def __init__(self, out_dir: str | Path, crop_px: int = 144, classes: tuple[str, ...] = EMOTIONS) -> None:
        self.out_dir = Path(out_dir)
        self.crop_px = crop_px
        self.classes = tuple(classes)  # the model's: 7 (FER2013) or 8 (FER+)
        self.columns = csv_columns(self.classes)
        self._staged = StagedDir(self.out_dir)
        self.root = self._staged.path
        (self.root / CROPS).mkdir()
        self._csv_file = (self.root / FRAMES_CSV).open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(self.columns)
        self.timeline = Timeline()
        self.crops: list[Path] = []
        self._preview: np.ndarray | None = None
        self._preview_faces = -1

    def save_crops(self, frame: Frame, states: list[FaceState], crop: CropParams) -> None:
        """A captioned colour crop of every face whose shown label was set or changed on this frame
        (call before drawing on the frame, so the crop is clean)."""
        for state in states:
            if not state.changed:
                continue
            region = crop_region(frame.image, np.array(state.box), crop)
            tile = captioned_crop(region, label_text(state), label_colour(state), self.crop_px)
            confidence = round(state.confidence * 100)
            emotion = self.classes[state.label]
            name = f"face{state.track_id:03d}_frame{frame.index:05d}_{emotion}_{confidence:03d}.png"
            path = self.root / CROPS / name
            write_image(path, tile)
            self.crops.append(path)

    def record(self, frame: Frame, states: list[FaceState], latency_ms: float, full_scan: bool,
               annotated: np.ndarray) -> None:
        self.timeline.add(frame, states)
        head = [frame.index, round(frame.time_s, 4), frame.name, round(latency_ms, 3), int(full_scan)]
        if not states:
            self._csv.writerow(head + [""] * (len(self.columns) - len(head)))
        for s in states:
            self._csv.writerow(head + [s.track_id, *s.box, self.classes[s.label], round(s.confidence, 4),
                                       self.classes[s.raw_label], round(s.raw_confidence, 4),
                                       *(round(float(p), 4) for p in s.probs), int(s.uncertain)])
        if len(states) > self._preview_faces:
            self._preview, self._preview_faces = annotated.copy(), len(states)

    def grid(self, size: int, columns: int, seed: int) -> np.ndarray:
        """`size` crops drawn with a seeded generator (all when fewer), kept in time order."""
        if not self.crops:
            return placeholder("no face found")
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(self.crops), size=min(size, len(self.crops)), replace=False))
        tiles = [cv2.imread(str(self.crops[i]), cv2.IMREAD_COLOR) for i in chosen]
        return make_grid(tiles, columns)

    def finish(self, summary: dict[str, Any], grid_size: int, grid_columns: int, seed: int) -> Path:
        self._csv_file.close()
        write_image(self.root / GRID, self.grid(grid_size, grid_columns, seed))
        write_image(self.root / PREVIEW, self._preview if self._preview is not None else placeholder("no frame read"))
        write_json(self.root / TIMELINE, {**self.timeline.as_dict(), "source": summary.get("source"),
                                          "model": summary.get("model")})
        write_json(self.root / SUMMARY, summary)
        self._staged.commit()
        return self.out_dir

    def abort(self) -> None:
        if not self._csv_file.closed:
            self._csv_file.close()
        self._staged.abort()
