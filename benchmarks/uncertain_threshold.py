"""Where to flag a face "uncertain": accuracy against coverage of the classifier's top probability
on validation faces, then how often the flag is raised on the labelled photos' covered faces.

    python benchmarks/uncertain_threshold.py [--data fer2013.csv.gz] [--model file.keras] [--usage PublicTest]

Validation: FER2013's PublicTest rows (3,589 faces) scored by the shipped pretrained model, which
never trained on them (FER2013_PATH or ../shared/data/fer2013/), against the labels of the model's
own label set: FER2013's for a 7-class model, FER+'s majority for an 8-class one (FERPLUS_PATH or
../shared/data/ferplus/; faces without a majority left out). For each threshold: the share of
faces kept (top probability at or above it), the accuracy on those, and the accuracy on the flagged
ones, which the demo, the service and the API then show as "uncertain" instead of a label.
Photos: every labelled face of tests/assets/faces' added part (the photos whose faces are tagged)
that params.yaml's photo path finds, cut and classified as the service does; the share flagged,
split by the faces' tags (covered, profile, turned, none: upright and frontal), at each threshold.
Non-faces: 500 each of pixel noise, smooth noise (a random 6x6 grid blown up) and flat grey frames
(numpy's generator, seed 0), and, a kind no training ever used, background patches: squares cut
from the labelled photos away from every face box. Their median top probability and the share
flagged, which should be all of them (a model trained with `train.outlier_exposure` saw other
draws of the first three kinds, never the patches).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, fer2013_path, ferplus_path  # noqa: E402

if TYPE_CHECKING:
    import numpy as np

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="FER2013 CSV (default: FER2013_PATH or ../shared/data/fer2013)")
    parser.add_argument("--model", default=None, help="a .keras file (default: the shipped pretrained model)")
    parser.add_argument("--usage", default="PublicTest", help="FER2013 rows to measure on (default: PublicTest)")
    parser.add_argument("--ferplus", default=None,
                        help="FER+ fer2013new.csv, for an 8-class model (default: FERPLUS_PATH, "
                             "else ../shared/data/ferplus/)")
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    return parser.parse_args()


def validation_table(top, correct) -> list[tuple[float, float, float, float, float]]:
    """(threshold, coverage, accuracy kept, accuracy flagged, accuracy just under the threshold) per
    threshold; `top` and `correct` are arrays of each face's top probability and whether its top
    class is right. "Just under" is the band from the previous threshold in THRESHOLDS."""
    rows = []
    for k, threshold in enumerate(THRESHOLDS):
        kept = top >= threshold
        flagged = ~kept
        band = flagged & (top >= (THRESHOLDS[k - 1] if k else 0.0))
        rows.append((threshold, float(kept.mean()), _mean(correct[kept]), _mean(correct[flagged]),
                     _mean(correct[band])))
    return rows


def _mean(values) -> float:
    return float(values.mean()) if len(values) else float("nan")


def photo_top_probabilities(classifier, params) -> dict[str, list[float]]:
    """Top probability of every labelled face of the added photos found by the photo path, by tag
    ('none' when untagged)."""
    import numpy as np

    from facial_emotion.faces.boxes import iou
    from facial_emotion.faces.crops import crop_faces
    from facial_emotion.faces.detect import create_detector
    from facial_emotion.faces.images import to_gray
    from facial_emotion.faces.evaluation import load_labelled_set

    detector = create_detector(params)
    by_tag: dict[str, list[float]] = {}
    for photo in load_labelled_set(REPO / "tests" / "assets" / "faces"):
        if photo.part != "added" or not len(photo.faces):
            continue
        pixels = photo.read()
        found = detector.detect(pixels, still=True)
        if not len(found):
            continue
        overlaps = iou(found.boxes, photo.faces)
        probs = classifier(crop_faces(to_gray(pixels), found, params.crop, params.align))
        for face, tags in enumerate(photo.tags):
            best = int(np.argmax(overlaps[:, face]))
            if overlaps[best, face] < 0.5:
                continue  # not found: nothing to classify
            for tag in tags or ["none"]:
                by_tag.setdefault(tag, []).append(float(probs[best].max()))
    return by_tag


def non_faces(n: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """uint8 [n, 48, 48] images that hold no face, by kind."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (n, 6, 6)).astype(np.float32)
    return {
        "pixel noise": rng.integers(0, 256, (n, 48, 48), dtype=np.uint8),
        "smooth noise": np.stack([cv2.resize(c, (48, 48), interpolation=cv2.INTER_LINEAR) for c in coarse])
        .round().astype(np.uint8),
        "flat frames": np.repeat(rng.integers(0, 256, (n, 1, 1), dtype=np.uint8), 48, 1).repeat(48, 2),
    }


def clear_of_faces(x: int, y: int, side: int, faces) -> bool:
    """Whether the square at (x, y) of `side` px misses every [x, y, w, h] face box grown by half
    its width and height on each side (hair, chin and ears stay out too)."""
    return not any(x < fx + 1.5 * w and x + side > fx - w / 2 and y < fy + 1.5 * h and y + side > fy - h / 2
                   for fx, fy, w, h in faces)


def background_patches(per_photo: int = 5, seed: int = 0) -> np.ndarray:
    """uint8 [n, 48, 48]: up to `per_photo` grey squares from each labelled photo (side 48 px to a
    third of the shorter side), each `clear_of_faces`."""
    import cv2
    import numpy as np

    from facial_emotion.faces.evaluation import load_labelled_set
    from facial_emotion.faces.images import to_gray

    rng = np.random.default_rng(seed)
    patches = []
    for photo in load_labelled_set(REPO / "tests" / "assets" / "faces"):
        gray = to_gray(photo.read())
        height, width = gray.shape
        if min(height, width) < 144:
            continue
        kept = 0
        for _ in range(50 * per_photo):
            if kept == per_photo:
                break
            side = int(rng.integers(48, min(height, width) // 3 + 1))
            x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
            if not clear_of_faces(x, y, side, photo.faces):
                continue
            patches.append(cv2.resize(gray[y:y + side, x:x + side], (48, 48), interpolation=cv2.INTER_AREA))
            kept += 1
    return np.stack(patches)


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from facial_emotion import pretrained
    from facial_emotion.data.fer_csv import read_fer_csv
    from facial_emotion.data.ferplus import N_EMOTIONS, majority, read_votes
    from facial_emotion.faces.classifier import load_classifier
    from facial_emotion.faces.startup import read_app_params

    data = fer2013_path(args.data)
    classifier = load_classifier(str(args.model or pretrained.MODEL_FILE))
    dataset, _ = read_fer_csv(data)
    rows = np.flatnonzero(dataset.usage == args.usage)
    if not len(rows):
        sys.exit(f"{data}: no rows with Usage {args.usage}")
    probs = np.concatenate([classifier(dataset.images[rows[i:i + 512]]) for i in range(0, len(rows), 512)])
    labels, label_set = dataset.labels[rows], "FER2013 labels"
    if probs.shape[1] == N_EMOTIONS:  # an 8-class FER+ model: scored against FER+'s majority
        votes_file = ferplus_path(args.ferplus)
        if not votes_file.is_file():
            sys.exit(f"{votes_file}: FER+ votes not found, needed for an 8-class model (pass --ferplus)")
        votes, _ = read_votes(votes_file)
        labels, _ = majority(votes[dataset.rows[rows]])
        probs, labels = probs[labels >= 0], labels[labels >= 0]
        label_set = "FER+ majority labels (faces without a majority left out)"
    top, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    print(f"{args.usage}: {len(labels)} faces, {data.name}, {label_set}, model {Path(classifier.uri).name}; "
          f"accuracy {correct.mean():.4f}, median top probability {np.median(top):.3f}")
    print("| flag below | faces kept | accuracy kept | accuracy flagged | accuracy just under |")
    print("|---|---|---|---|---|")
    for threshold, coverage, kept, flagged, band in validation_table(top, correct):
        print(f"| {threshold:.2f} | {coverage:.3f} | {kept:.3f} | {flagged:.3f} | {band:.3f} |")

    settings = read_app_params(args.params).demo
    by_tag = photo_top_probabilities(classifier, settings.detector)
    print(f"\nLabelled photos (tests/assets/faces), faces found by the still-photo detector; share flagged "
          f"(params.yaml uncertain_below = {settings.detector.uncertain_below}):")
    print("| faces | found | " + " | ".join(f"< {t:.2f}" for t in THRESHOLDS) + " |")
    print("|---|---|" + "---|" * len(THRESHOLDS))
    for tag in sorted(by_tag):
        values = np.asarray(by_tag[tag])
        print(f"| {tag} | {len(values)} | " + " | ".join(f"{(values < t).mean():.2f}" for t in THRESHOLDS) + " |")

    print("\nNon-faces (no face at all; the share flagged should be 1.00):")
    print("| images | n | median top probability | " + " | ".join(f"< {t:.2f}" for t in THRESHOLDS) + " |")
    print("|---|---|---|" + "---|" * len(THRESHOLDS))
    for kind, images in {**non_faces(), "photo background": background_patches()}.items():
        values = classifier(images).max(axis=1)
        print(f"| {kind} | {len(values)} | {np.median(values):.3f} | "
              + " | ".join(f"{(values < t).mean():.2f}" for t in THRESHOLDS) + " |")


if __name__ == "__main__":
    main()
