"""Emotion models scored on real photos whose faces' expressions were labelled by eye.

The faces are tests/assets/faces/emotions.json's. Per model: accuracy, accuracy per class,
confusion counts and mean top probability, and the behaviour checks of
tests/integration/test_behaviour.py (a face keeps its label when the photo is mirrored or turned
10 degrees) on the same faces.

    python benchmarks/real_photos.py [--model PATH ...] [--json out.json] [--params params.yaml]

Each model is a `.keras` or `.onnx` file (default: every one in facial_emotion/pretrained/). Faces
go through the demo's own path: YuNet with params.yaml's `demo.detector` settings, the aligned 48x48
crop (faces/crops.crop_faces), the model. The crop uses the LABELLED box; the landmarks it aligns by
come from the detection that overlaps that box by IoU >= 0.5 (a face the detector does not find at
the demo's threshold is counted as unmatched and left out). The mirrored and turned views are what
the demo would see in the mirrored or turned photo: the detection that overlaps the face's moved box.

Accuracy counts faces with a clear label (not `unclear`); an 8-class model's `contempt` is wrong
unless the label is contempt, and a 7-class model is scored as it is. The baseline printed beside
the models, from the same faces, is always answering the most common label.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facial_emotion.errors import PipelineError  # noqa: E402 - after the path line, run as a script
from facial_emotion.labels import FERPLUS_EMOTIONS, IMAGE_SIZE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "tests" / "assets" / "faces"
PRETRAINED = REPO / "facial_emotion" / "pretrained"
UNCLEAR = "unclear"
LABELS = (*FERPLUS_EMOTIONS, UNCLEAR)
IOU_MATCH = 0.5
TURN_DEGREES = 10
VIEWS = ("found", "mirror", f"turned +{TURN_DEGREES}", f"turned -{TURN_DEGREES}")


class LabelError(PipelineError, ValueError):
    """emotions.json disagrees with boxes.json or holds a label that is not a class name."""


@dataclass(frozen=True)
class LabelledFace:
    image: str
    box: tuple[int, int, int, int]
    emotion: str


def load_emotions(folder: str | Path = PHOTOS) -> list[LabelledFace]:
    """Every face of the photos `folder`/emotions.json labels, with its expression, in boxes.json's order
    (photos added to boxes.json later, for the detector, are not labelled and not read). Raises
    LabelError naming the image and box when a label is not on a face box there, a face of a labelled
    photo has no label or two, or a label is not a class name or `unclear`."""
    folder = Path(folder)
    boxes = json.loads((folder / "boxes.json").read_text(encoding="utf-8"))["images"]
    path = folder / "emotions.json"
    labelled = json.loads(path.read_text(encoding="utf-8"))["images"]
    given: dict[tuple[str, tuple[int, ...]], str] = {}
    for image, faces in labelled.items():
        known = {tuple(box) for box in boxes.get(image, {}).get("faces", [])}
        for face in faces:
            box = tuple(int(v) for v in face["box"])
            where = f"{path}: {image} box {list(box)}"
            if box not in known:
                raise LabelError(f"{where} is not a face box of {image} in boxes.json")
            if face["emotion"] not in LABELS:
                raise LabelError(f"{where}: {face['emotion']!r} is not one of {', '.join(LABELS)}")
            if (image, box) in given:
                raise LabelError(f"{where} is labelled twice")
            given[(image, box)] = face["emotion"]
    out = []
    for image, entry in boxes.items():
        if image not in labelled:
            continue
        for box in entry["faces"]:
            key = (image, tuple(int(v) for v in box))
            if key not in given:
                raise LabelError(f"{path}: {image} box {list(box)} (a face in boxes.json) has no label")
            out.append(LabelledFace(image, key[1], given[key]))
    return out


@dataclass(frozen=True)
class FaceCrops:
    """Model input for the labelled faces: `face` [n, 48, 48] for the `faces` the detector matched
    (`unmatched` the rest), and `views` [m, 48, 48] each for the faces found in all four views."""

    faces: list[LabelledFace]
    face: np.ndarray
    unmatched: list[LabelledFace]
    views: dict[str, np.ndarray]


def _match(boxes: np.ndarray, found) -> list[int | None]:
    """For each box, the index of the unclaimed detection overlapping it most, when by IoU >= IOU_MATCH."""
    from facial_emotion.faces.boxes import iou

    if not len(found):
        return [None] * len(boxes)
    overlaps = iou(boxes, found.boxes)
    claimed: set[int] = set()
    out: list[int | None] = []
    for row in overlaps:
        order = [j for j in np.argsort(-row) if j not in claimed and row[j] >= IOU_MATCH]
        out.append(int(order[0]) if order else None)
        if order:
            claimed.add(int(order[0]))
    return out


def _moved(faces: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Boxes of the same size centred where `transform` (2x3) takes each box's centre."""
    centres = np.c_[faces[:, :2] + faces[:, 2:] / 2, np.ones(len(faces))] @ transform.T
    return np.c_[centres - faces[:, 2:] / 2, faces[:, 2:]]


def _crop(gray: np.ndarray, faces, detector) -> np.ndarray:
    from facial_emotion.faces.crops import crop_faces

    return crop_faces(gray, faces, detector.params.crop, detector.params.align)


def _view(picture: np.ndarray, boxes: np.ndarray, detector, found=None) -> list[np.ndarray | None]:
    """The demo's crop of the detection overlapping each of `boxes` in `picture` (detected here
    unless `found` is given), None where none does."""
    from facial_emotion.faces.images import to_gray

    found = detector.detect(picture) if found is None else found
    gray = to_gray(picture)
    return [None if j is None else _crop(gray, found.select([j]), detector)[0] for j in _match(boxes, found)]


def _labelled_box_crops(image: np.ndarray, boxes: np.ndarray, detector, found) -> list[np.ndarray | None]:
    """The demo's crop of each labelled box itself, aligned by the landmarks of the detection in
    `found` that overlaps it (IoU >= IOU_MATCH); None where there is no such detection."""
    from facial_emotion.faces.detections import Detections
    from facial_emotion.faces.images import to_gray

    gray = to_gray(image)
    out: list[np.ndarray | None] = []
    for box, j in zip(boxes, _match(boxes, found)):
        if j is None:
            out.append(None)
            continue
        face = Detections(box[None].astype(np.int32), None if found.scores is None else found.scores[[j]],
                          None if found.landmarks is None else found.landmarks[[j]])
        out.append(_crop(gray, face, detector)[0])
    return out


def _changed_views(image: np.ndarray, boxes: np.ndarray, detector) -> dict[str, list[np.ndarray | None]]:
    """Crops of each face in the mirrored photo and in the photo turned by +-TURN_DEGREES about its centre."""
    height, width = image.shape[:2]
    mirrored = boxes.copy()
    mirrored[:, 0] = width - boxes[:, 0] - boxes[:, 2]
    seen = {"mirror": _view(cv2.flip(image, 1), mirrored, detector)}
    for degrees in (TURN_DEGREES, -TURN_DEGREES):
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        turned = cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REFLECT)
        seen[f"turned {degrees:+d}"] = _view(turned, _moved(boxes, turn), detector)
    return seen


def collect_crops(faces: list[LabelledFace], detector, folder: str | Path = PHOTOS,
                  behaviour: bool = True) -> FaceCrops:
    """Crop every labelled face the demo's way (see the module docstring), and with `behaviour` its
    mirrored and turned views (four times the detector's work); independent of the model."""
    by_image: dict[str, list[LabelledFace]] = {}
    for face in faces:
        by_image.setdefault(face.image, []).append(face)
    kept: list[LabelledFace] = []
    face_crops: list[np.ndarray] = []
    unmatched: list[LabelledFace] = []
    views: dict[str, list[np.ndarray]] = {name: [] for name in VIEWS}
    for image_name, labelled in by_image.items():
        path = Path(folder) / image_name
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise LabelError(f"{path}: cannot read image")
        boxes = np.array([face.box for face in labelled], dtype=np.float64)
        found = detector.detect(image)
        seen = {"found": _view(image, boxes, detector, found)}
        if behaviour:
            seen.update(_changed_views(image, boxes, detector))
        for i, crop in enumerate(_labelled_box_crops(image, boxes, detector, found)):
            if crop is None:
                unmatched.append(labelled[i])
                continue
            kept.append(labelled[i])
            face_crops.append(crop)
            if behaviour and all(seen[name][i] is not None for name in VIEWS):
                for name in VIEWS:
                    views[name].append(seen[name][i])
    empty = np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return FaceCrops(kept, np.stack(face_crops) if face_crops else empty, unmatched,
                     {name: np.stack(value) if value else empty for name, value in views.items()})


def _invariance(classifier, views: dict[str, np.ndarray], changed: list[str]) -> dict[str, float]:
    """Share of faces whose top class the change keeps, and the same share with the changed view's
    classes paired to another face (chance: a model that says one thing to every face scores 1 on both)."""
    base = classifier(views["found"]).argmax(axis=1)
    kept, chance = [], []
    for name in changed:
        other = classifier(views[name]).argmax(axis=1)
        kept.append(np.mean(base == other))
        chance.append(np.mean(base == np.roll(other, 1)))
    return {"kept": round(float(np.mean(kept)), 4), "chance": round(float(np.mean(chance)), 4)}


def majority_baseline(crops: FaceCrops) -> dict[str, object]:
    """Accuracy on the clear faces of always answering their most common label."""
    clear = [face.emotion for face in crops.faces if face.emotion != UNCLEAR]
    label, count = Counter(clear).most_common(1)[0]
    return {"label": label, "accuracy": round(count / len(clear), 4)}


def score(classifier, crops: FaceCrops) -> dict[str, object]:
    """One model on the cropped faces: accuracy over the clear faces, per class and as confusion
    counts (label -> predicted -> faces, the unclear faces too), mean top probability on clear and
    unclear faces, each face's answer, and the behaviour checks when `crops` has the views."""
    if not len(crops.faces):
        raise LabelError("no labelled face was matched by the detector: nothing to score")
    probs = classifier(crops.face)
    classes = list(classifier.classes)
    predicted = [classes[k] for k in probs.argmax(axis=1)]
    top = probs.max(axis=1)
    labels = [face.emotion for face in crops.faces]
    clear = np.array([label != UNCLEAR for label in labels])
    correct = np.array([p == label for p, label in zip(predicted, labels)])
    per_class = {}
    for label in sorted({label for label in labels if label != UNCLEAR}, key=LABELS.index):
        rows = np.array([x == label for x in labels])
        per_class[label] = {"faces": int(rows.sum()), "accuracy": round(float(correct[rows].mean()), 4)}
    confusion: dict[str, dict[str, int]] = {}
    for label, p in zip(labels, predicted):
        confusion.setdefault(label, Counter())[p] += 1
    result: dict[str, object] = {
        "classes": classes,
        "faces": len(labels), "clear_faces": int(clear.sum()), "unmatched_faces": len(crops.unmatched),
        "accuracy": round(float(correct[clear].mean()), 4) if clear.any() else None,
        "correct": int(correct[clear].sum()),
        "per_class": per_class,
        "confusion": {label: dict(sorted(row.items(), key=lambda kv: -kv[1])) for label, row in confusion.items()},
        "mean_top_probability": {
            "clear": round(float(top[clear].mean()), 4) if clear.any() else None,
            "unclear": round(float(top[~clear].mean()), 4) if (~clear).any() else None},
        "answers": [{"image": face.image, "box": list(face.box), "label": face.emotion, "predicted": p,
                     "probability": round(float(t), 4)} for face, p, t in zip(crops.faces, predicted, top)],
    }
    if len(crops.views["found"]):
        result["behaviour"] = {
            "faces": len(crops.views["found"]),
            "mirror": _invariance(classifier, crops.views, ["mirror"]),
            f"turned {TURN_DEGREES}": _invariance(classifier, crops.views,
                                                   [f"turned +{TURN_DEGREES}", f"turned -{TURN_DEGREES}"])}
    return result


def default_models(folder: Path = PRETRAINED) -> list[Path]:
    """Every model file shipped in the package: .keras then .onnx, by name."""
    return sorted(folder.glob("*.keras")) + sorted(folder.glob("*.onnx"))


def load_model(path: str | Path):
    """A .keras file (facial_emotion.models.store.load_keras_model; class names from its output size,
    labels.class_names) or an .onnx file (ONNX Runtime; class names from its metadata), as the
    demo's EmotionClassifier."""
    from facial_emotion.faces.classifier import load_classifier
    from facial_emotion.faces.emotion_classifier import ModelLoadError

    path = Path(path)
    if path.suffix not in (".keras", ".onnx"):
        raise ModelLoadError(f"{path}: expected a .keras or .onnx model file")
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    return load_classifier(str(path))


def _per_class_text(result: dict) -> str:
    return ", ".join(f"{label} {v['accuracy']:.2f} ({v['faces']})" for label, v in result["per_class"].items())


def table(results: dict[str, dict], baseline: dict) -> str:
    """Markdown table: one row per model, then the majority-label baseline."""
    head = ("| model | classes | faces: clear / unclear / unmatched | accuracy (clear) | per class (faces) "
            "| mean top prob. clear / unclear | mirror kept (chance) | 10-degree turn kept (chance) |")
    lines = [head, "|" + "---|" * 8]
    for name, r in results.items():
        b = r.get("behaviour", {})
        mirror, turn = b.get("mirror"), b.get(f"turned {TURN_DEGREES}")
        behaviour = [f"{v['kept']:.3f} ({v['chance']:.3f}), {b['faces']} faces" if v else "-" for v in (mirror, turn)]
        top = " / ".join("-" if v is None else f"{v:.3f}" for v in r["mean_top_probability"].values())
        lines.append(f"| {name} | {len(r['classes'])} | {r['clear_faces']} / {r['faces'] - r['clear_faces']} / "
                     f"{r['unmatched_faces']} | {r['accuracy']:.3f} ({r['correct']}/{r['clear_faces']}) | "
                     f"{_per_class_text(r)} | {top} | {behaviour[0]} | {behaviour[1]} |")
    lines.append(f"| baseline: always {baseline['label']} | - | same faces | {baseline['accuracy']:.3f} | | | | |")
    return "\n".join(lines)


def confusion_text(name: str, result: dict) -> str:
    rows = [f"{name}: label -> predicted (faces)"]
    for label, row in result["confusion"].items():
        rows.append(f"  {label:<10} " + ", ".join(f"{p} {n}" for p, n in row.items()))
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None, metavar="PATH",
                        help="a .keras or .onnx model file; repeat for several "
                             "(default: every model file in facial_emotion/pretrained/)")
    parser.add_argument("--json", default=None, metavar="OUT", help="write every figure and each face's answer here")
    parser.add_argument("--params", default=str(REPO / "params.yaml"),
                        help="params file whose demo.detector settings find the faces (default: params.yaml)")
    parser.add_argument("--photos", default=str(PHOTOS),
                        help="folder with the photos, boxes.json and emotions.json (default: tests/assets/faces)")
    parser.add_argument("--no-behaviour", action="store_true",
                        help="skip the mirrored and turned views (then the detector runs once per photo, not 4 times)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from facial_emotion.faces.detect import create_detector
    from facial_emotion.faces.startup import read_app_params

    try:
        models = [Path(m) for m in args.model] if args.model else default_models()
        if not models:
            raise PipelineError(f"no .keras or .onnx file in {PRETRAINED}: pass --model")
        classifiers = {str(path): load_model(path) for path in models}
        faces = load_emotions(args.photos)
        settings = read_app_params(args.params).demo
        crops = collect_crops(faces, create_detector(settings.detector), args.photos, behaviour=not args.no_behaviour)
        results = {name: score(classifier, crops) for name, classifier in classifiers.items()}
    except PipelineError as exc:
        sys.exit(f"error: {exc}")
    baseline = majority_baseline(crops)
    print(f"{len(faces)} labelled faces in {args.photos}; {len(crops.faces)} matched by the detector "
          f"(IoU >= {IOU_MATCH}), {len(crops.unmatched)} not; labels: "
          + ", ".join(f"{k} {v}" for k, v in Counter(f.emotion for f in faces).most_common()))
    print(table({Path(name).name: r for name, r in results.items()}, baseline))
    for name, result in results.items():
        print(confusion_text(Path(name).name, result))
    if args.json:
        out = {"photos": str(args.photos), "labels": dict(Counter(f.emotion for f in faces)),
               "unmatched": [{"image": f.image, "box": list(f.box), "label": f.emotion} for f in crops.unmatched],
               "baseline": baseline, "models": results}
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
