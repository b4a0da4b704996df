"""Precision and recall of a face detector on a labelled set of photos (tests/assets/faces/).

A detection is a hit when it overlaps an unclaimed labelled face by IoU >= 0.5 (PASCAL VOC's
rule); one that lands on an `ignore` region (a face too small, cut by the frame or out of focus,
which no detector should be blamed for finding or missing) counts neither way; any other is a
false alarm. Recall is hits over labelled faces, precision hits over hits plus false alarms.

Faces may carry tags (`covered`: a mask or a hand over part of it; `profile`; `turned`: more than
45 degrees from upright in the image plane), and photos a `part` (`original`, or `added` for those
of issue 40), so recall can be told apart by kind (`recall_by`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .boxes import iou

IOU_HIT = 0.5


@dataclass(frozen=True)
class LabelledImage:
    name: str
    path: Path
    faces: np.ndarray   # int [n, 4]
    ignore: np.ndarray  # int [m, 4]
    tags: tuple[tuple[str, ...], ...] = ()  # per face: covered, profile, turned (none: an upright frontal face)
    part: str = "original"                  # original | added (issue 40's photos)

    def read(self) -> np.ndarray:
        image = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"{self.path}: cannot read image")
        return image


def load_labelled_set(folder: str | Path) -> list[LabelledImage]:
    """The photos named in `folder`/boxes.json with their boxes; a listed file that is missing is an error."""
    folder = Path(folder)
    labels = json.loads((folder / "boxes.json").read_text(encoding="utf-8"))["images"]
    images = []
    for name, entry in sorted(labels.items()):
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{folder / 'boxes.json'}: {name} is labelled but not in {folder}")
        faces = np.asarray(entry["faces"], np.int64).reshape(-1, 4)
        tags = tuple(tuple(t) for t in entry.get("tags", [[]] * len(faces)))
        if len(tags) != len(faces):
            raise ValueError(f"{folder / 'boxes.json'}: {name} has {len(faces)} faces but {len(tags)} tag lists")
        images.append(LabelledImage(name, path, faces, np.asarray(entry["ignore"], np.int64).reshape(-1, 4),
                                    tags, entry.get("part", "original")))
    return images


@dataclass
class Score:
    hits: int = 0
    false_alarms: int = 0
    faces: int = 0
    false_alarm_at: list[tuple[str, list[int]]] = field(default_factory=list)
    missed_at: list[tuple[str, list[int]]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.hits + self.false_alarms
        return self.hits / found if found else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.faces if self.faces else 1.0


def combine_scores(scores) -> Score:
    """One score from several (say, the original and the added photos)."""
    total = Score()
    for score in scores:
        total.hits += score.hits
        total.false_alarms += score.false_alarms
        total.faces += score.faces
        total.false_alarm_at += score.false_alarm_at
        total.missed_at += score.missed_at
    return total


def _inside_share(boxes: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Share of each box's area inside each region -> [n, m]."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    regions = np.asarray(regions, np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(boxes[:, None, 0] + boxes[:, None, 2], regions[None, :, 0] + regions[None, :, 2])
                - np.maximum(boxes[:, None, 0], regions[None, :, 0]), 0, None)
    h = np.clip(np.minimum(boxes[:, None, 1] + boxes[:, None, 3], regions[None, :, 1] + regions[None, :, 3])
                - np.maximum(boxes[:, None, 1], regions[None, :, 1]), 0, None)
    area = np.maximum(boxes[:, 2] * boxes[:, 3], 1.0)[:, None]
    return w * h / area


def score_image(image: LabelledImage, detected: np.ndarray, score: Score) -> np.ndarray:
    """Add one photo's detections (boxes [k, 4], most confident or largest first) to `score`;
    returns which labelled faces were found (bool [n])."""
    detected = np.asarray(detected).reshape(-1, 4)
    overlaps = iou(detected, image.faces)
    claimed = np.zeros(len(image.faces), bool)
    for i, box in enumerate(detected):
        free = np.where(claimed, -1.0, overlaps[i]) if len(image.faces) else np.zeros(0)
        if len(free) and free.max() >= IOU_HIT:
            claimed[int(np.argmax(free))] = True
            score.hits += 1
            continue
        if len(image.ignore) and (iou(box[None], image.ignore).max() >= IOU_HIT
                                  or _inside_share(box[None], image.ignore).max() >= 0.5):
            continue
        score.false_alarms += 1
        score.false_alarm_at.append((image.name, [int(v) for v in box]))
    score.faces += len(image.faces)
    score.missed_at.extend((image.name, [int(v) for v in face]) for face in image.faces[~claimed])
    return claimed


def face_kinds(image: LabelledImage, megapixels: float) -> list[list[str]]:
    """Each labelled face's kinds for recall by kind: its tags, its size (under 40 px wide, 40-100,
    over 100) and `small in >= 2 MP` for a face under 40 px in a photo of 2 megapixels or more."""
    kinds = []
    for i, (_, _, w, _) in enumerate(image.faces):
        tags = list(image.tags[i]) if i < len(image.tags) else []
        size = "under 40 px" if w < 40 else "40-100 px" if w <= 100 else "over 100 px"
        small_in_large = ["small in >= 2 MP"] if w < 40 and megapixels >= 2 else []
        kinds.append([*(tags or ["upright frontal"]), size, *small_in_large])
    return kinds


def recall_by(found: list[tuple[list[str], bool]]) -> dict[str, tuple[int, int]]:
    """(faces found, faces) per kind, from (kinds, found) pairs of every labelled face."""
    table: dict[str, tuple[int, int]] = {}
    for kinds, hit in found:
        for kind in kinds:
            hits, total = table.get(kind, (0, 0))
            table[kind] = (hits + int(hit), total + 1)
    return table
