"""One frame in, steady face states out: detect, crop, classify every face in one model call,
track. The demo loop and the latency benchmark share it, so the benchmark measures the demo.

A full-frame scan of 640x480 costs tens of ms on a 2-core CPU (YuNet or Haar); between full scans
(every `full_scan_every` frames, or whenever no face is followed) only the neighbourhood of the
faces already tracked is searched, a few ms. New faces are therefore picked up within that many frames.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from .emotion_classifier import EmotionClassifier
from .crops import crop_faces
from .detect import FaceDetector
from .images import to_gray
from .tracker import FaceState, FaceTracker
from .uncertain import is_uncertain


@dataclass(frozen=True)
class FrameResult:
    states: list[FaceState]
    boxes: np.ndarray    # every detection this frame, shown or still tentative
    full_scan: bool
    timings_ms: dict[str, float]  # detect, classify, track


class FrameAnalyzer:
    """`still`: the frames are photos, not video, so a full scan may take longer to find small and
    (with `yunet.turned`) turned faces; each face's state says whether its emotion is `uncertain`
    (top probability under the detector params' `uncertain_below`)."""

    def __init__(self, detector: FaceDetector, classifier: EmotionClassifier, tracker: FaceTracker,
                 full_scan_every: int = 30, still: bool = False) -> None:
        self.detector = detector
        self.classifier = classifier
        self.tracker = tracker
        self.full_scan_every = max(1, int(full_scan_every))
        self.still = still
        self._since_full_scan = 0

    def analyze(self, image: np.ndarray) -> FrameResult:
        start = time.perf_counter()
        known = self.tracker.boxes
        full_scan = not len(known) or self._since_full_scan + 1 >= self.full_scan_every
        if full_scan:
            faces = self.detector.detect(image, still=self.still)
            self._since_full_scan = 0
        else:
            faces = self.detector.detect_near(image, known)
            self._since_full_scan += 1
        detected = time.perf_counter()
        params = self.detector.params
        probs = self.classifier(crop_faces(to_gray(image), faces, params.crop, params.align))
        classified = time.perf_counter()
        below = params.uncertain_below
        states = [dataclasses.replace(state, uncertain=is_uncertain(state.probs, below))
                  for state in self.tracker.update(faces.boxes, probs)]
        tracked = time.perf_counter()
        timings = {"detect": (detected - start) * 1e3, "classify": (classified - detected) * 1e3,
                   "track": (tracked - classified) * 1e3}
        return FrameResult(states, faces.boxes, full_scan, timings)

    def reset(self) -> None:
        """Between unrelated photos: forget tracked faces and scan the next frame whole."""
        self.tracker.end_all()
        self._since_full_scan = 0
