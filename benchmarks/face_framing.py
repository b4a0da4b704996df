"""Where the eyes sit in FER2013's 48x48 frames and in the demo's crops of real photos, and the crop
margin and shift that make the two agree; writes a side-by-side mean-face figure.

    python benchmarks/face_framing.py [--data FER2013.csv.gz] [--sample 1500] [--out docs/images/face-framing.png]

One instrument measures both: a 48x48 face is enlarged 4x (cubic), set on a plain border and given
to YuNet, whose landmarks (measured again at the size where they follow tilt) are mapped back to
48x48 pixels. FER2013: a seeded sample of its training faces. Crops: every labelled face in
tests/assets/faces that each detector finds, cut with params.yaml's settings and with the margin
and shift this script derives from the boxes (eye distance and eye height relative to each box,
against FER2013's). The figure shows the mean face of each with the mean eye positions marked.
No FER2013 pixels are written anywhere but into that averaged image.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import fer2013_path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "tests" / "assets" / "faces"
ENLARGE, PAD = 4, 64


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None,
                        help="FER2013 csv(.gz) (default: FER2013_PATH or ../shared/data/fer2013)")
    parser.add_argument("--sample", type=int, default=1500, help="FER2013 training faces measured (default 1500)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(REPO / "docs" / "images" / "face-framing.png"))
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    data_path = fer2013_path(args.data)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    import numpy as np

    from facial_emotion.data.fer_csv import read_fer_csv
    from facial_emotion.faces.boxes import iou
    from facial_emotion.faces.crops import crop_faces
    from facial_emotion.faces.detect import create_detector
    from facial_emotion.faces.evaluation import load_labelled_set
    from facial_emotion.faces.startup import read_app_params
    from facial_emotion.params.demo import CropParams

    settings = read_app_params(args.params).demo
    yunet_params = settings.detector.model_copy(update={"kind": "yunet", "align": True})
    haar_params = settings.detector.model_copy(update={"kind": "haar", "align": False})
    loose = yunet_params.model_copy(update={"yunet": yunet_params.yunet.model_copy(
        update={"score_threshold": 0.5, "align_face_px": 200})})
    instrument = create_detector(loose)

    def eyes_48(face: np.ndarray) -> np.ndarray | None:
        """(right eye, left eye) of a 48x48 gray face in its own pixels, or None when YuNet finds no face."""
        big = cv2.resize(face, None, fx=ENLARGE, fy=ENLARGE, interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=int(np.median(face)))
        found = instrument.detect(big)
        if not len(found):
            return None
        centres = found.boxes[:, :2] + found.boxes[:, 2:] / 2
        best = int(np.argmin(np.linalg.norm(centres - big.shape[0] / 2, axis=1)))
        return (found.landmarks[best, :2] - PAD) / ENLARGE

    def measure(faces: np.ndarray) -> tuple[np.ndarray, int]:
        eyes = [e for e in (eyes_48(f) for f in faces) if e is not None]
        return np.asarray(eyes), len(eyes)

    dataset, _ = read_fer_csv(data_path)
    training = np.flatnonzero(dataset.usage == "Training")
    rng = np.random.default_rng(args.seed)
    sample = dataset.images[rng.choice(training, size=min(args.sample, len(training)), replace=False)]
    fer_eyes, fer_found = measure(sample)
    fer_distance = np.linalg.norm(fer_eyes[:, 1] - fer_eyes[:, 0], axis=1).mean() / 48
    fer_centre = fer_eyes.mean(axis=1).mean(axis=0) / 48  # (x, y) as shares of the frame

    # Real faces: each labelled face with its YuNet landmarks (refined) and each detector's box.
    yunet, haar = create_detector(yunet_params), create_detector(haar_params)
    rows = {"yunet": [], "haar": []}  # (box, eyes) per face found by that detector
    grays = []
    for image in load_labelled_set(PHOTOS):
        if not len(image.faces):
            continue
        pixels = image.read()
        grays.append((image, cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY), pixels))
        mine = yunet.detect(pixels)
        theirs = haar.detect(pixels)
        for face in image.faces:
            y_hit = iou(face[None], mine.boxes)[0] if len(mine) else np.zeros(0)
            if not len(y_hit) or y_hit.max() < 0.5:
                continue
            k = int(np.argmax(y_hit))
            eyes = mine.landmarks[k, :2]
            rows["yunet"].append((mine.boxes[k], eyes))
            h_hit = iou(face[None], theirs.boxes)[0] if len(theirs) else np.zeros(0)
            if len(h_hit) and h_hit.max() >= 0.5:
                rows["haar"].append((theirs.boxes[int(np.argmax(h_hit))], eyes))

    def derive(pairs) -> CropParams:
        """Margin and shift that put the mean eye distance and eye height where FER2013 has them."""
        longer = np.array([max(b[2], b[3]) for b, _ in pairs], float)
        distance = np.array([np.linalg.norm(e[1] - e[0]) for _, e in pairs]) / longer
        centre_y = np.array([(e[:, 1].mean() - (b[1] + b[3] / 2)) for b, e in pairs]) / longer
        scale = distance.mean() / fer_distance            # crop side over the box's longer side
        margin = (scale - 1) / 2
        shift = centre_y.mean() - (fer_centre[1] - 0.5) * scale
        return CropParams(margin=round(float(margin), 3), shift=round(float(shift), 3))

    derived = {name: derive(pairs) for name, pairs in rows.items()}

    def crops_of(name: str, crop: CropParams, align: bool) -> np.ndarray:
        detector = yunet if name == "yunet" else haar
        out = []
        for image, gray, pixels in grays:
            found = detector.detect(pixels)
            keep = [i for i, box in enumerate(found.boxes)
                    if len(image.faces) and iou(box[None], image.faces).max() >= 0.5]
            if keep:
                out.append(crop_faces(gray, found.select(keep), crop, align=align))
        return np.concatenate(out)

    panels = [("FER2013 (training sample)", "", sample, fer_eyes, fer_found, len(sample))]
    print(f"eye positions in 48x48 frames (x, y in pixels; mean over faces YuNet finds in the enlarged frame); "
          f"FER2013 {data_path.name}, {fer_found}/{len(sample)} faces measured")
    print(f"{'frames':44s} {'faces':>6s} {'right eye':>14s} {'left eye':>14s} {'eye distance':>12s} {'roll sd':>8s}")

    def report(label: str, eyes: np.ndarray, n: int, total: int) -> None:
        right, left = eyes[:, 0].mean(axis=0), eyes[:, 1].mean(axis=0)
        roll = np.degrees(np.arctan2(eyes[:, 1, 1] - eyes[:, 0, 1], eyes[:, 1, 0] - eyes[:, 0, 0]))
        dist = np.linalg.norm(eyes[:, 1] - eyes[:, 0], axis=1).mean()
        print(f"{label:44s} {n:3d}/{total:<3d}({right[0]:5.1f}, {right[1]:5.1f}) ({left[0]:5.1f}, {left[1]:5.1f}) "
              f"{dist:12.1f} {roll.std():8.1f}")

    report("FER2013 (training sample)", fer_eyes, fer_found, len(sample))
    configured = {"yunet": yunet_params.crop, "haar": haar_params.crop}
    for name in ("yunet", "haar"):
        align = name == "yunet"
        for tag, crop in (("params.yaml", configured[name]), ("derived", derived[name])):
            crops = crops_of(name, crop, align)
            eyes, found = measure(crops)
            label = f"{name}{' aligned' if align else ''} crops, margin {crop.margin} shift {crop.shift} ({tag})"
            report(label, eyes, found, len(crops))
            if tag == "params.yaml":
                panels.append((f"{name} crops{', aligned' if align else ''}",
                               f"margin {crop.margin} shift {crop.shift}, ", crops, eyes, found, len(crops)))
    for name, crop in derived.items():
        print(f"derived for {name} from {len(rows[name])} faces: margin {crop.margin}, shift {crop.shift}")

    tiles = []
    for title, detail, faces, eyes, _, total in panels:
        mean = cv2.resize(faces.astype(np.float32).mean(axis=0), None, fx=5, fy=5, interpolation=cv2.INTER_CUBIC)
        tile = cv2.cvtColor(np.clip(mean, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        for x, y in eyes.mean(axis=0) * 5:
            cv2.drawMarker(tile, (int(round(x)), int(round(y))), (0, 0, 255), cv2.MARKER_CROSS, 14, 2)
        for x, y in fer_eyes.mean(axis=0) * 5:
            cv2.circle(tile, (int(round(x)), int(round(y))), 9, (0, 200, 0), 1)
        caption = np.full((44, tile.shape[1], 3), 255, np.uint8)
        cv2.putText(caption, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(caption, f"{detail}mean of {total}", (4, 34), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
        tiles.append(np.vstack([tile, caption]))
    gap = np.full((tiles[0].shape[0], 8, 3), 255, np.uint8)
    figure = np.hstack([part for tile in tiles for part in (tile, gap)][:-1])
    note = np.full((22, figure.shape[1], 3), 255, np.uint8)
    cv2.putText(note, "red +: mean eyes of these crops; green o: FER2013's mean eyes", (4, 15),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", np.vstack([figure, note]))
    out.write_bytes(encoded.tobytes())
    print(f"figure: {out}")


if __name__ == "__main__":
    main()
