"""Per-frame latency of the webcam demo's loop against the first study's loop, at 640x480 with one face.

    python benchmarks/demo_latency.py [--frames 120] [--model URI_OR_.keras] [--cpus 2]

Frames: the demo's default clip (scikit-image's astronaut photo moved and zoomed at 640x480, one
real face). The loops run interleaved frame by frame, so load from other processes hits all alike.

* study: Haar on the whole frame, then `model.predict` on the first face only, then drawing.
* demo (full scan): the demo's loop with a full-frame Haar scan on every frame.
* demo: the demo's loop as configured (params.yaml `demo:`): full scans every `full_scan_every`
  frames and a search around tracked faces between, every face in one `predict_on_batch` call,
  smoothing, tracking and drawing.

Same cascade parameters in all three. The model is the study's CNN (untrained: weights do not
change latency) unless --model names one. Target: demo median <= 20 ms and >= 3x faster than the study's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPEEDUP_TARGET = 3.0
MEDIAN_TARGET_MS = 20.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames per loop (default 120)")
    parser.add_argument("--warmup", type=int, default=5, help="frames per loop left out of the figures")
    parser.add_argument("--model", default=None, help="MLflow model URI or .keras file (default: the study's CNN, untrained)")
    parser.add_argument("--cpus", type=int, default=None, help="pin to the first N CPUs (e.g. 2, to mimic a 2-core machine)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.cpus:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])  # before TF/OpenCV start their pools
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import cv2
    import numpy as np

    from facial_emotion.faces.analyzer import FrameAnalyzer
    from facial_emotion.faces.classifier import from_keras, load_classifier
    from facial_emotion.faces.demo import settings_from_file
    from facial_emotion.faces.detect import FaceDetector, cascade_path
    from facial_emotion.faces.render import draw_frame
    from facial_emotion.faces.sources import AstronautClip
    from facial_emotion.faces.tracker import FaceTracker

    settings, _ = settings_from_file(Path(__file__).resolve().parents[1] / "params.yaml")
    if args.model:
        from facial_emotion import tracking

        if not args.model.endswith(".keras"):
            tracking.configure()
        classifier = load_classifier(args.model)
        keras_model = classifier.raw_model
    else:
        from facial_emotion.models.architectures import build_study1_cnn

        keras_model = build_study1_cnn()
        classifier = from_keras(keras_model, "study CNN (untrained)")
        classifier.warm_up()
    if keras_model is None:
        sys.exit(f"{args.model}: not a Keras model; the study's loop needs keras `predict`")

    clip = AstronautClip(type(settings.clip)(**{**settings.clip.__dict__, "frames": args.frames + args.warmup}))
    frames = [frame.image for frame in clip]

    study_cascade = cv2.CascadeClassifier(str(cascade_path()))
    p = settings.detector

    def study_loop(image: np.ndarray) -> None:
        """The first study: every frame scanned whole, the first face only, one predict per frame."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        faces = study_cascade.detectMultiScale(gray, scaleFactor=p.scale_factor, minNeighbors=p.min_neighbors,
                                               minSize=p.min_size)
        if len(faces):
            x, y, w, h = faces[0]
            face = cv2.resize(gray[y:y + h, x:x + w], (48, 48))
            probs = keras_model.predict(face[None, :, :, None], verbose=0)
            cv2.rectangle(image, (x, y), (x + w, y + h), (255, 0, 0), 2)
            cv2.putText(image, str(int(np.argmax(probs))), (x, y - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (36, 255, 12), 2)

    def demo_loop(every: int):
        analyzer = FrameAnalyzer(FaceDetector(p), classifier, FaceTracker(settings.tracker), every)

        def step(image: np.ndarray) -> int:
            result = analyzer.analyze(image)
            draw_frame(image, result.states, 30.0, 10.0)
            return len(result.boxes)
        return step

    loops = {"study": study_loop, "demo (full scan)": demo_loop(1),
             f"demo (full scan every {settings.full_scan_every})": demo_loop(settings.full_scan_every)}
    times: dict[str, list[float]] = {name: [] for name in loops}
    for i, frame in enumerate(frames):
        for name, loop in loops.items():
            image = frame.copy()
            start = time.perf_counter()
            loop(image)
            elapsed = (time.perf_counter() - start) * 1e3
            if i >= args.warmup:
                times[name].append(elapsed)

    cpus = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"demo latency, 640x480, one face, {args.frames} frames per loop, {cpus} CPUs, load average {load:.2f}, "
          f"model: {classifier.uri}")
    print(f"{'loop':34s} {'median ms':>10s} {'p95 ms':>8s} {'mean ms':>8s}")
    for name, values in times.items():
        print(f"{name:34s} {np.median(values):10.1f} {np.percentile(values, 95):8.1f} {np.mean(values):8.1f}")
    study = float(np.median(times["study"]))
    ours_name = list(loops)[-1]
    ours = float(np.median(times[ours_name]))
    full = float(np.median(times["demo (full scan)"]))
    print(f"speed-up of the median: {study / ours:.1f}x ({ours_name}), {study / full:.1f}x (full scan every frame); "
          f"target >= {SPEEDUP_TARGET:.0f}x and <= {MEDIAN_TARGET_MS:.0f} ms median: "
          f"{'met' if study / ours >= SPEEDUP_TARGET and ours <= MEDIAN_TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
