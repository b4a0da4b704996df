"""Face detectors side by side on real photos: precision, recall (IoU >= 0.5) and time per image,
then the demo's per-frame latency at 640x480 with tracking for each detector.

    python benchmarks/face_detection.py [--cpus 2] [--repeats 3] [--demo-frames 120]

The photos are the labelled set in tests/assets/faces/ (faces, group shots, crowds, masked,
turned and profile faces, and photos with no face: clothes, animals, textures, text, drawings;
README.md there), reported for the original photos and those added in issue 40 apart, and recall by
kind of face (size, covered, profile, turned). The detectors run with params.yaml's `demo.detector`
settings: YuNet's photo path (`detect(still=True)`: the second look and, when set, the turned scans),
the same with one of those changed, YuNet's video-frame path (one pass at `max_side`) and Haar, image
by image in turn, so load from other processes hits all alike. Time per MP is the sum over the set
of each image's fastest of `--repeats` runs over the set's megapixels.

Targets (issue 40): on the photo path precision >= 0.97 and recall >= 0.90 on the whole set; a 1 MP
photo detected in <= 150 ms on 2 cores; the demo's median frame latency <= 20 ms
(benchmarks/demo_latency.py's loops).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "tests" / "assets" / "faces"
PRECISION_TARGET, RECALL_TARGET, MEGAPIXEL_MS_TARGET = 0.97, 0.90, 150.0
SWEEP = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=None,
                        help="pin to the first N CPUs (e.g. 2, to mimic a 2-core machine)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per image; the fastest counts (default 3)")
    parser.add_argument("--demo-frames", type=int, default=120, help="frames per demo loop; 0 skips the demo latency")
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--quick", action="store_true",
                        help="skip the score_threshold sweep and the alignment measurement")
    parser.add_argument("--time-only", action="store_true",
                        help="only the 1 MP photo's time per detector (seconds, not minutes)")
    parser.add_argument("--second-look", action="store_true",
                        help="also run the photo path with the other kind of second look (tiles or full)")
    return parser.parse_args()


def timed(fn, repeats: int):
    """`fn`'s result and its fastest CPU time in ms (the process's, all threads) over `repeats` runs:
    on a shared machine the wall clock measures the queue for the CPU more than the detector."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        result = fn()
        best = min(best, (time.process_time() - start) * 1e3)
    return result, best


def measure_alignment(images, params) -> dict[str, list[float]]:
    """Tilt read from the eyes on turned copies of each photo's largest face, minus the turn."""
    import cv2
    import numpy as np

    from facial_emotion.faces.crops import eye_angle
    from facial_emotion.faces.detect import create_detector

    readers = {
        "one pass (landmarks of the detection)": create_detector(params.model_copy(update={"align": False})),
        f"align (two passes, face at {params.yunet.align_face_px} px)":
            create_detector(params.model_copy(update={"align": True})),
    }
    errors: dict[str, list[float]] = {name: [] for name in readers}

    def tilt(reader, picture, centre, width):
        """Eye tilt of the face `reader` finds nearest `centre`; None when none is within half `width` of it."""
        found = reader.detect(picture)
        if not len(found):
            return None
        middles = found.boxes[:, :2] + found.boxes[:, 2:] / 2
        nearest = int(np.argmin(np.linalg.norm(middles - centre, axis=1)))
        close = np.linalg.norm(middles[nearest] - centre) < width / 2
        return eye_angle(found.landmarks[nearest]) if close else None

    for image in images:
        if not len(image.faces):
            continue
        pixels = image.read()
        x, y, w, h = image.faces[np.argmax(image.faces[:, 2] * image.faces[:, 3])]
        centre = (float(x + w / 2), float(y + h / 2))
        for name, reader in readers.items():
            upright = tilt(reader, pixels, centre, w)
            if upright is None:
                continue
            for turn in (-20, -10, 10, 20):
                rotation = cv2.getRotationMatrix2D(centre, turn, 1.0)
                turned = cv2.warpAffine(pixels, rotation, (pixels.shape[1], pixels.shape[0]),
                                        borderMode=cv2.BORDER_REFLECT)
                read = tilt(reader, turned, centre, w)
                if read is not None:  # cv2 turns anticlockwise for a positive angle: the eyes read -turn
                    errors[name].append(read - upright + turn)
    return errors


def time_megapixel(images, detectors, configured) -> float:
    """Wall and CPU time of each detector on the set's 1 MP photo; returns the first one's median wall ms."""
    import cv2
    import numpy as np

    from facial_emotion.faces.detect import create_detector

    photo = next(i for i in images if i.name == "facerec-obama-and-biden.jpg").read()
    megapixel = cv2.resize(photo, (1155, 866), interpolation=cv2.INTER_CUBIC)  # 1.0 MP
    print(f"\n1 MP photo (1155x866, 3 faces), median of 15 runs after 2 warm-ups, load average "
          f"{os.getloadavg()[0]:.2f}; CPU ms is the process's CPU time (all threads: the photo path's passes run "
          f"in parallel on {cv2.getNumThreads()} threads)")
    timing = {**detectors, "yunet photo path, align off": (
        create_detector(configured.model_copy(update={"align": False})), True)}
    photo_1mp = None
    for name, (detector, still) in timing.items():
        for _ in range(2):
            detector.detect(megapixel, still=still)
        wall, cpu = [], []
        for _ in range(15):
            start, start_cpu = time.perf_counter(), time.process_time()
            found = detector.detect(megapixel, still=still)
            wall.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.process_time() - start_cpu) * 1e3)
        print(f"{name.strip():32s} wall {np.median(wall):7.1f} ms  CPU {np.median(cpu):7.1f} ms  ({len(found)} faces)")
        photo_1mp = np.median(wall) if photo_1mp is None else photo_1mp
    return photo_1mp


def main() -> None:
    args = parse_args()
    if args.cpus:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import cv2
    import numpy as np

    from facial_emotion.faces.detect import create_detector
    from facial_emotion.faces.evaluation import (Score, combine_scores, face_kinds, load_labelled_set, recall_by,
                                                 score_image)
    from facial_emotion.faces.startup import read_app_params

    settings = read_app_params(args.params).demo
    configured = settings.detector.model_copy(update={"kind": "yunet"})
    y = configured.yunet
    # (params, still): the photo path as configured, its parts taken away one by one, the video path, Haar
    variants = {
        "yunet photo path (params.yaml)": (configured, True),
        **({f"  second look {'full' if y.second_look != 'full' else 'tiles'} instead":
            (configured.model_copy(update={"yunet": y.model_copy(update={
                "second_look": "full" if y.second_look != "full" else "tiles"})}), True)} if args.second_look else {}),
        f"  turned scans {'off' if y.turned else 'on'}":
            (configured.model_copy(update={"yunet": y.model_copy(update={"turned": not y.turned})}), True),
        "yunet video frame (one pass)": (configured, False),
        "haar": (settings.detector.model_copy(update={"kind": "haar", "align": False}), True),
    }
    detectors = {name: (create_detector(params), still) for name, (params, still) in variants.items()}
    sweeper = create_detector(configured.model_copy(update={"yunet": y.model_copy(
        update={"score_threshold": min(SWEEP)}), "align": False}))

    images = load_labelled_set(PHOTOS)
    if args.time_only:
        photo_1mp = time_megapixel(images, detectors, configured)
        print(f"1 MP <= {MEGAPIXEL_MS_TARGET:.0f} ms: {'met' if photo_1mp <= MEGAPIXEL_MS_TARGET else 'NOT met'}")
        return
    parts = ("original", "added")
    scores = {name: {part: Score() for part in parts} for name in detectors}
    kinds: dict[str, list[tuple[list[str], bool]]] = {name: [] for name in detectors}
    times: dict[str, list[float]] = {name: [] for name in detectors}
    megapixels = 0.0
    swept = {t: Score() for t in SWEEP}
    for image in images:
        pixels = image.read()
        size = pixels.shape[0] * pixels.shape[1] / 1e6
        megapixels += size
        for name, (detector, still) in detectors.items():
            found, ms = timed(partial(detector.detect, pixels, still=still), args.repeats)
            times[name].append(ms)
            hits = score_image(image, found.boxes, scores[name][image.part])
            kinds[name].extend(zip(face_kinds(image, size), hits))
        if args.quick:
            continue
        low = sweeper.detect(pixels, still=True)
        order = np.argsort(-low.scores, kind="stable")
        for threshold, score in swept.items():
            keep = order[low.scores[order] >= threshold]
            score_image(image, low.boxes[keep], score)

    cpus = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    with_faces = sum(len(i.faces) > 0 for i in images)
    added = [i for i in images if i.part == "added"]
    print(f"face detection on {len(images)} real photos ({with_faces} with {sum(len(i.faces) for i in images)} faces, "
          f"{len(images) - with_faces} with none; tests/assets/faces: {len(images) - len(added)} original, "
          f"{len(added)} added with {sum(len(i.faces) for i in added)} faces), IoU >= 0.5, {cpus} CPUs, "
          f"load average {load:.2f}, OpenCV {cv2.__version__}")
    print("| detector | precision | recall | original P / R | added P / R | false alarms | missed | CPU ms per MP |")
    print("|---|---|---|---|---|---|---|---|")
    for name, by_part in scores.items():
        total = combine_scores(by_part.values())
        o, a = by_part["original"], by_part["added"]
        print(f"| {name} | {total.precision:.3f} | {total.recall:.3f} | {o.precision:.3f} / {o.recall:.3f} | "
              f"{a.precision:.3f} / {a.recall:.3f} | {total.false_alarms} | {total.faces - total.hits} | "
              f"{sum(times[name]) / megapixels:.0f} |")
    print("\nrecall by kind of face (found / labelled):")
    table = {name: recall_by(found) for name, found in kinds.items()}
    names = list(table)
    print("| faces | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for kind in sorted(table[names[0]]):
        cells = [f"{table[n][kind][0] / table[n][kind][1]:.2f} ({table[n][kind][0]}/{table[n][kind][1]})"
                 for n in names]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    for name, by_part in scores.items():
        total = combine_scores(by_part.values())
        print(f"{name.strip()} false alarms: " + (", ".join(f"{w} {b}" for w, b in total.false_alarm_at) or "none"))
        print(f"{name.strip()} missed: " + (", ".join(f"{w} {b}" for w, b in total.missed_at) or "none"))

    if not args.quick:
        print(f"\nyunet photo path by score_threshold (one run at {min(SWEEP)}, align off, boxes kept above each):")
        print(f"{'threshold':>9s} {'precision':>9s} {'recall':>7s} {'false alarms':>12s}")
        for threshold, score in swept.items():
            print(f"{threshold:9.2f} {score.precision:9.3f} {score.recall:7.3f} {score.false_alarms:12d}")

    photo_1mp = time_megapixel(images, detectors, configured)
    total = combine_scores(scores[names[0]].values())
    met = total.precision >= PRECISION_TARGET and total.recall >= RECALL_TARGET
    print(f"targets (photo path): precision >= {PRECISION_TARGET} and recall >= {RECALL_TARGET}: "
          f"{'met' if met else 'NOT met'}; 1 MP <= {MEGAPIXEL_MS_TARGET:.0f} ms: "
          f"{'met' if photo_1mp <= MEGAPIXEL_MS_TARGET else 'NOT met'}")

    if args.quick:
        return
    roll_errors = measure_alignment(images, configured)
    print(f"\nalignment: each photo's largest face turned by -20, -10, 10 and 20 degrees about its centre; "
          f"error of the tilt read from the eyes ({len(next(iter(roll_errors.values())))} turned faces)")
    for name, errors in roll_errors.items():
        errors = np.abs(errors)
        print(f"{name:44s} median {np.median(errors):4.1f} deg  p90 {np.percentile(errors, 90):4.1f} deg")

    if args.demo_frames:
        from benchmarks.demo_latency import measure

        print()
        measure(args.demo_frames, warmup=5, model=None, params=args.params)


if __name__ == "__main__":
    main()
