"""Steady labels across frames: faces followed by box overlap, class probabilities smoothed per
face, and a label that changes only after the new emotion has held for `hold_frames` frames.

The first study classified each frame on its own and reported flicker; a face now keeps its id
while it moves, and one odd frame cannot change what is shown.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..params import defaults
from ..params.demo import TrackerSection
from .boxes import iou


class ProbabilitySmoother:
    """Per-face smoothing of class probabilities: EMA, or the mean over a sliding window."""

    def __init__(self, params: TrackerSection) -> None:
        self.params = params
        self._ema: np.ndarray | None = None
        self._recent: deque[np.ndarray] = deque(maxlen=int(params.window))

    def update(self, probs: np.ndarray) -> np.ndarray:
        probs = np.asarray(probs, dtype=np.float64)
        if self.params.smoothing == "window":
            self._recent.append(probs)
            return np.mean(self._recent, axis=0)
        alpha = self.params.alpha
        self._ema = probs.copy() if self._ema is None else alpha * probs + (1.0 - alpha) * self._ema
        return self._ema


class LabelHysteresis:
    """The shown label: set on the first frame, changed only when another class has led the
    smoothed probabilities for `hold_frames` consecutive frames."""

    def __init__(self, hold_frames: int) -> None:
        self.hold_frames = int(hold_frames)
        self.label: int | None = None
        self._candidate: int | None = None
        self._count = 0

    def update(self, probs: np.ndarray) -> bool:
        """Feed one frame's smoothed probabilities; True when the shown label changed (or was first set)."""
        leader = int(np.argmax(probs))
        if self.label is None:
            self.label = leader
            return True
        if leader == self.label:
            self._candidate, self._count = None, 0
            return False
        if leader != self._candidate:
            self._candidate, self._count = leader, 0
        self._count += 1
        if self._count >= self.hold_frames:
            self.label, self._candidate, self._count = leader, None, 0
            return True
        return False


@dataclass(frozen=True)
class FaceState:
    """One tracked face in one frame: what is drawn, saved and written to the CSV."""

    track_id: int
    box: tuple[int, int, int, int]
    probs: np.ndarray          # smoothed class probabilities
    label: int                 # the steady label shown
    raw_label: int             # this frame's own argmax, unsmoothed
    raw_confidence: float
    changed: bool              # the shown label was set or changed on this frame
    new: bool                  # first frame of this track
    uncertain: bool = False    # top smoothed probability under demo.detector.uncertain_below (set by FrameAnalyzer)

    @property
    def confidence(self) -> float:
        """Smoothed probability of the shown label."""
        return float(self.probs[self.label])


@dataclass(eq=False)
class _Track:
    box: np.ndarray
    smoother: ProbabilitySmoother
    labels: LabelHysteresis
    hits: int = 0
    missed: int = 0
    confirmed: bool = False
    track_id: int = 0  # given on confirmation, so false alarms use up no ids


class FaceTracker:
    """Greedy IoU matching of this frame's detections to the faces already followed."""

    def __init__(self, params: TrackerSection | None = None) -> None:
        """`params`: params.yaml's `demo.tracker` (None: the defaults)."""
        self.params = params or defaults.DEMO.tracker
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def boxes(self) -> np.ndarray:
        """Last known boxes of the live tracks (where to look for them in the next frame)."""
        if not self._tracks:
            return np.zeros((0, 4), dtype=np.int32)
        return np.stack([t.box for t in self._tracks]).astype(np.int32)

    def end_all(self) -> None:
        """Forget every face (between unrelated photos); ids keep counting up."""
        self._tracks = []

    def update(self, boxes: np.ndarray, probs: np.ndarray) -> list[FaceState]:
        """One frame: boxes [n, 4] and their class probabilities [n, k] -> one state per detected face."""
        boxes = np.asarray(boxes).reshape(-1, 4)
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2 or len(probs) != len(boxes):
            raise ValueError(f"expected one probability row per box ({len(boxes)}), got shape {probs.shape}")
        assignment = self._match(boxes)
        states: list[FaceState] = []
        updated: set[int] = set()  # id() of the tracks seen this frame
        for i, box in enumerate(boxes):
            track = assignment.get(i)
            if track is None:
                track = _Track(box, ProbabilitySmoother(self.params), LabelHysteresis(self.params.hold_frames))
                self._tracks.append(track)
            track.box, track.missed, track.hits = box.copy(), 0, track.hits + 1
            updated.add(id(track))
            smoothed = track.smoother.update(probs[i])
            changed = track.labels.update(smoothed)
            new = not track.confirmed and track.hits >= self.params.min_hits
            if new:
                track.confirmed, track.track_id = True, self._next_id
                self._next_id += 1
            if not track.confirmed:
                continue  # tentative: not shown until detected min_hits frames in a row
            raw = int(np.argmax(probs[i]))
            states.append(FaceState(track.track_id, tuple(int(v) for v in box), smoothed.copy(),
                                    int(track.labels.label), raw, float(probs[i, raw]), changed or new, new))
        for track in self._tracks:
            if id(track) not in updated:
                track.missed += 1
        # A tentative face missed once was a false alarm; a confirmed one may come back within max_missed.
        self._tracks = [t for t in self._tracks if t.missed <= (self.params.max_missed if t.confirmed else 0)]
        return states

    def _match(self, boxes: np.ndarray) -> dict[int, _Track]:
        """Detection index -> track, highest overlap first, each used once."""
        if not self._tracks or not len(boxes):
            return {}
        overlaps = iou(boxes, self.boxes)
        assignment: dict[int, _Track] = {}
        used: set[int] = set()
        for flat in np.argsort(-overlaps, axis=None, kind="stable"):
            det, trk = divmod(int(flat), overlaps.shape[1])
            if overlaps[det, trk] < self.params.iou_threshold:
                break
            if det in assignment or trk in used:
                continue
            assignment[det] = self._tracks[trk]
            used.add(trk)
        return assignment
