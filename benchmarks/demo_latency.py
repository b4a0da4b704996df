"""Per-frame latency of the webcam demo's loop, with each detector, against the first study's loop,
at 640x480 with one face.

    python benchmarks/demo_latency.py [--frames 120] [--model URI_OR_.keras] [--cpus 2]

Frames: the demo's default clip (scikit-image's astronaut photo moved and zoomed at 640x480, one
real face). The loops run interleaved frame by frame, so load from other processes hits all alike.

* study: Haar on the whole frame, then `model.predict` on the first face only, then drawing.
* demo <detector> (full scan): the demo's loop with a full-frame scan on every frame.
* demo <detector>: the demo's loop as configured (params.yaml `demo:`): full scans every
  `full_scan_every` frames and a search around tracked faces between, every face in one
  `predict_on_batch` call, crops (upright by the eyes when `demo.detector.align`), smoothing,
  tracking and drawing. YuNet is the configured detector; Haar runs with its own settings and no alignment.

The model is the study's CNN (untrained: weights do not change latency) unless --model names one.
Target: the configured demo's median <= 20 ms and >= 3x faster than the study's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
SPEEDUP_TARGET = 3.0
MEDIAN_TARGET_MS = 20.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames per loop (default 120)")
    parser.add_argument("--warmup", type=int, default=5, help="frames per loop left out of the figures")
    parser.add_argument("--model", default=None,
                        help="MLflow model URI or .keras file (default: the study's CNN, untrained)")
    parser.add_argument("--cpus", type=int, default=None,
                        help="pin to the first N CPUs (e.g. 2, to mimic a 2-core machine)")
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    return parser.parse_args()


def measure(frames_per_loop: int, warmup: int, model: str | None, params: str | Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    import numpy as np

    from facial_emotion.faces.analyzer import FrameAnalyzer
    from facial_emotion.faces.classifier import from_keras, load_classifier
    from facial_emotion.faces.detect import create_detector
    from facial_emotion.faces.haar import load_cascade
    from facial_emotion.faces.render import draw_frame
    from facial_emotion.faces.sources import AstronautClip
    from facial_emotion.faces.startup import read_app_params
    from facial_emotion.faces.tracker import FaceTracker

    settings = read_app_params(params).demo
    if model:
        from facial_emotion import tracking

        if not model.endswith(".keras"):
            tracking.configure()
        classifier = load_classifier(model)
        keras_model = classifier.raw_model
    else:
        from facial_emotion.models.architectures import build_study1_cnn

        keras_model = build_study1_cnn()
        classifier = from_keras(keras_model, "study CNN (untrained)")
        classifier.warm_up()
    if keras_model is None:
        sys.exit(f"{model}: not a Keras model; the study's loop needs keras `predict`")

    clip = AstronautClip(settings.clip.model_copy(update={"frames": frames_per_loop + warmup}))
    frames = [frame.image for frame in clip]

    study_cascade = load_cascade()
    haar = settings.detector.haar

    def study_loop(image: np.ndarray) -> None:
        """The first study: every frame scanned whole, the first face only, one predict per frame."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        faces = study_cascade.detectMultiScale(gray, scaleFactor=haar.scale_factor, minNeighbors=haar.min_neighbors,
                                               minSize=haar.min_size)
        if len(faces):
            x, y, w, h = faces[0]
            face = cv2.resize(gray[y:y + h, x:x + w], (48, 48))
            probs = keras_model.predict(face[None, :, :, None], verbose=0)
            cv2.rectangle(image, (x, y), (x + w, y + h), (255, 0, 0), 2)
            cv2.putText(image, str(int(np.argmax(probs))), (x, y - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (36, 255, 12), 2)

    def demo_loop(detector_params, every: int):
        analyzer = FrameAnalyzer(create_detector(detector_params), classifier, FaceTracker(settings.tracker), every)

        def step(image: np.ndarray) -> int:
            result = analyzer.analyze(image)
            draw_frame(image, result.states, 30.0, 10.0)
            return len(result.boxes)
        return step

    configured = settings.detector
    every = settings.full_scan_every
    variants = [("haar", configured)] if configured.kind == "haar" else [
        (f"{configured.kind}{' aligned' if configured.align else ''}", configured),
        ("yunet, align off", configured.model_copy(update={"align": False})) if configured.align else None,
        ("haar", configured.model_copy(update={"kind": "haar", "align": False}))]
    loops = {"study": study_loop}
    for label, p in filter(None, variants):
        if "align off" not in label:
            loops[f"demo {label} (full scan)"] = demo_loop(p, 1)
        loops[f"demo {label} (full scan every {every})"] = demo_loop(p, every)
    times: dict[str, list[float]] = {name: [] for name in loops}
    cpu: dict[str, list[float]] = {name: [] for name in loops}
    for i, frame in enumerate(frames):
        for name, loop in loops.items():
            image = frame.copy()
            start, start_cpu = time.perf_counter(), time.process_time()
            loop(image)
            elapsed = (time.perf_counter() - start) * 1e3
            if i >= warmup:
                times[name].append(elapsed)
                cpu[name].append((time.process_time() - start_cpu) * 1e3)

    cpus = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"demo latency, 640x480, one face, {frames_per_loop} frames per loop, {cpus} CPUs, load average {load:.2f}, "
          f"model: {classifier.uri}")
    print("CPU ms: the process's CPU time per frame, all threads (a bound for the wall time on free cores)")
    print(f"{'loop':44s} {'median ms':>10s} {'p95 ms':>8s} {'mean ms':>8s} {'median CPU ms':>14s}")
    for name, values in times.items():
        print(f"{name:44s} {np.median(values):10.1f} {np.percentile(values, 95):8.1f} {np.mean(values):8.1f} "
              f"{np.median(cpu[name]):14.1f}")
    study = float(np.median(times["study"]))
    ours_name = list(loops)[2]
    ours = float(np.median(times[ours_name]))
    ours_cpu = float(np.median(cpu[ours_name]))
    print(f"speed-up of the median: {study / ours:.1f}x ({ours_name}); target >= {SPEEDUP_TARGET:.0f}x and "
          f"<= {MEDIAN_TARGET_MS:.0f} ms median: wall {ours:.1f} ms "
          f"{'met' if study / ours >= SPEEDUP_TARGET and ours <= MEDIAN_TARGET_MS else 'NOT met'}, "
          f"CPU {ours_cpu:.1f} ms {'met' if ours_cpu <= MEDIAN_TARGET_MS else 'NOT met'}")

def main() -> None:
    args = parse_args()
    if args.cpus:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])  # before TF/OpenCV start their pools
    measure(args.frames, args.warmup, args.model, args.params)


if __name__ == "__main__":
    main()
