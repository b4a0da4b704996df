"""The webcam demo: faces from a camera, a video or photos, classified by the registered champion,
boxed and labelled live, with crops, grid, timeline, per-frame CSV and a latency summary.

    python -m facial_emotion.faces.demo --source 0                   # webcam 0, `q` quits
    python -m facial_emotion.faces.demo --source clip.mp4 --no-window --save-video annotated.mp4
    python -m facial_emotion.faces.demo --source photos/ --model models:/facial-emotion@champion

Settings come from params.yaml's `demo:` section when there is one (else the schema's defaults,
params/defaults.py); the DVC stage `demo` runs the same loop on the astronaut clip.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import numpy as np

from ..errors import PipelineError
from ..labels import EMOTIONS
from ..paths import DEMO_LIVE_DIR, PARAMS_FILE
from ..params import defaults, with_changes
from ..params.demo import DemoSection
from .analyzer import FrameAnalyzer
from .emotion_classifier import EmotionClassifier
from .detect import create_detector
from .outputs import DemoRecorder, VideoOut
from .render import draw_frame
from .sources import FrameSource, open_source
from .startup import load_model, read_app_params
from .tracker import FaceTracker

log = logging.getLogger(__name__)

DEFAULT_OUT = str(DEMO_LIVE_DIR)
WINDOW_TITLE = "facial emotion (q quits)"


class DemoError(PipelineError, RuntimeError):
    """The window cannot be shown (no display) or the loop cannot run."""


class Window:
    """The live window; `show` returns False once the user pressed q or Esc, or closed it."""

    def __init__(self, title: str = WINDOW_TITLE) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise DemoError("no display to show the window on (DISPLAY is not set); add --no-window")
        self.title = title
        self._opened = False

    def show(self, image: np.ndarray, wait_ms: int = 1) -> bool:
        import cv2

        try:
            cv2.imshow(self.title, image)
            self._opened = True
            key = cv2.waitKey(wait_ms) & 0xFF
            closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error as exc:
            raise DemoError(f"cannot show the window ({str(exc).strip().splitlines()[-1]}); add --no-window") from None
        return key not in (ord("q"), ord("Q"), 27) and not closed

    def close(self) -> None:
        if self._opened:
            import cv2

            cv2.destroyWindow(self.title)
            cv2.waitKey(1)


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class LoopStats:
    """Per-frame latency (the frame's own work: detect, classify, track, draw; not saving or display)
    and the fps shown in the window."""

    STAGES = ("detect", "classify", "track", "render")

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.stage_ms: dict[str, list[float]] = {name: [] for name in self.STAGES}
        self.frames = self.full_scans = self.faces = 0
        self.shown_fps: float | None = None
        self.start = self._last = time.perf_counter()

    @property
    def last_latency(self) -> float | None:
        return self.latencies[-1] if self.latencies else None

    def add(self, timings_ms: dict[str, float], full_scan: bool, faces: int) -> float:
        latency = sum(timings_ms.values())
        self.latencies.append(latency)
        for name, value in timings_ms.items():
            self.stage_ms[name].append(value)
        self.frames += 1
        self.full_scans += int(full_scan)
        self.faces += faces
        return latency

    def tick(self) -> None:
        """End of a frame: update the smoothed fps shown on the next one."""
        now = time.perf_counter()
        instant = 1.0 / max(now - self._last, 1e-6)
        self.shown_fps = instant if self.shown_fps is None else 0.9 * self.shown_fps + 0.1 * instant
        self._last = now

    def summary(self, source: FrameSource, classifier: EmotionClassifier, recorder: DemoRecorder) -> dict[str, Any]:
        wall_s = time.perf_counter() - self.start
        return {
            "source": source.description,
            "model": classifier.uri,
            "model_version": classifier.version,
            "model_trained_on": classifier.trained_on,
            "model_note": classifier.note,  # a model trained on synthetic faces, or a champion passed over
            "model_call": classifier.runtime,
            "frames": self.frames,
            "frames_expected": source.expected_frames,  # the container's count, for a video file
            "truncated": source.truncated,
            "seconds": round(wall_s, 3),
            "fps": round(self.frames / wall_s, 2) if wall_s > 0 else None,  # end to end, saving included
            "latency_ms_median": _percentile(self.latencies, 50),
            "latency_ms_p95": _percentile(self.latencies, 95),
            "latency_ms_mean": round(float(np.mean(self.latencies)), 3) if self.latencies else None,
            **{f"{name}_ms_median": _percentile(values, 50) for name, values in self.stage_ms.items()},
            "full_scans": self.full_scans,
            "face_detections": self.faces,
            "faces_tracked": len(recorder.timeline.as_dict()["faces"]),
            "label_changes": recorder.timeline.label_changes,
            "crops_saved": len(recorder.crops),
        }


def run_demo(source: FrameSource, classifier: EmotionClassifier, demo: DemoSection, out_dir: str | Path,
             window: Window | None = None, video_path: str | Path | None = None,
             extra_summary: Mapping[str, Any] | None = None, video_name: str | None = None,
             seed: int = defaults.SEED) -> dict[str, Any]:
    """The frame loop: analyse, save crops on label changes, draw, show, record; outputs land in
    `out_dir` only when the loop ends (source exhausted, `q`, Ctrl-C or max_frames).

    `demo`: params.yaml's `demo:` section (its `source` and `annotated_video` are the caller's to
    act on); `seed` draws the grid's sample. The annotated video goes to `video_path` (anywhere) or
    to `video_name` inside `out_dir`."""
    tracker_params = demo.tracker
    if source.independent:  # unrelated photos: no history to smooth, confirm or hold
        tracker_params = tracker_params.model_copy(update={"min_hits": 1})
    analyzer = FrameAnalyzer(create_detector(demo.detector), classifier, FaceTracker(tracker_params),
                             demo.full_scan_every, still=source.independent)
    recorder = DemoRecorder(out_dir, demo.crop_px, classifier.classes or EMOTIONS)
    if video_name:
        video_path = recorder.root / video_name
    video = VideoOut(video_path, source.fps or 15.0) if video_path else None
    stats = LoopStats()
    success = False
    try:
        try:
            for frame in source:
                if source.independent:
                    analyzer.reset()
                result = analyzer.analyze(frame.image)
                recorder.save_crops(frame, result.states, demo.detector.crop)  # before drawing: clean crops
                drawn = time.perf_counter()
                draw_frame(frame.image, result.states, stats.shown_fps, stats.last_latency)
                timings = {**result.timings_ms, "render": (time.perf_counter() - drawn) * 1e3}
                latency = stats.add(timings, result.full_scan, len(result.states))
                recorder.record(frame, result.states, latency, result.full_scan, frame.image)
                if video is not None:
                    video.write(frame.image)
                stats.tick()
                if window is not None and not window.show(frame.image, 0 if source.independent else 1):
                    break
                if demo.max_frames is not None and stats.frames >= demo.max_frames:
                    break
        except KeyboardInterrupt:
            log.info("interrupted: writing what was recorded so far")
        detector = {"detector": demo.detector.kind, "aligned": demo.detector.align}
        summary = {**stats.summary(source, classifier, recorder), **detector, **(extra_summary or {})}
        if video is not None:
            video.close(success=True)
            video = None
        recorder.finish(summary, demo.grid.size, demo.grid.columns, seed)
        success = True
    finally:
        if video is not None:
            video.close(success=False)
        if not success:
            recorder.abort()
        if window is not None:
            window.close()
        source.close()
    log.info("%d frames, %d face detections, %d label changes; %.1f fps, latency median %s ms, p95 %s ms -> %s",
             summary["frames"], summary["face_detections"], summary["label_changes"], summary["fps"] or 0,
             summary["latency_ms_median"], summary["latency_ms_p95"], out_dir)
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m facial_emotion.faces.demo",
        description="Faces from a webcam, video or photos, classified by the champion model",
    )
    parser.add_argument("--source", default="0",
                        help="webcam index (0), video file, image file, image folder, or 'astronaut' (default: 0)")
    parser.add_argument("--model", default=None,
                        help="MLflow model URI, .onnx or .keras file (default: models:/<registry.model_name>@champion, "
                             "else the pretrained model shipped with the package)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--no-window", action="store_true", help="headless: no window (servers, CI)")
    parser.add_argument("--save-video", default=None, metavar="PATH", help="also write the annotated frames as an mp4")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--params", default="params.yaml",
                        help="params file with a demo: section (default: params.yaml)")
    parser.add_argument("--strict", action="store_true",
                        help="exit non-zero when the video ends before its container's frame count (truncated); "
                             "the outputs are written either way")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    app = read_app_params(args.params, missing_ok=args.params == str(PARAMS_FILE))
    demo = with_changes(app.demo, "demo", max_frames=args.max_frames)
    window = None if args.no_window else Window()
    source = open_source(args.source, demo.clip)  # fail on a bad source before the slow model load
    try:
        classifier = load_model(args.model, app)
    except BaseException:
        source.close()
        raise
    summary = run_demo(source, classifier, demo, args.out, window, args.save_video, seed=app.seed)
    if args.strict and summary["truncated"]:
        raise DemoError(f"{args.source}: truncated: {summary['frames']} of the {summary['frames_expected']} "
                        f"frames its container declares could be read (outputs in {args.out})")
    return summary


if __name__ == "__main__":
    from ..cli import run_main

    run_main(main)
