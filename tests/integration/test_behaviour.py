"""Behaviour checks on the champion of the default pipeline, through the real face path
(Made-With-ML's behavioural tests): a face and its mirror image keep their label, a face turned
10 degrees keeps its label more often than not, and a blank or noise image is not classified
with high confidence. The same checks run on the shipped model (trained on real FER2013) with
the real photos of tests/assets/faces, at stricter thresholds.

The faces are the pipeline's own test split (synthetic cartoons in this tiny pipeline, FER2013's
faces in a real run), each enlarged into a photo-sized frame and sent through what the demo and the
web service run: YuNet (params.yaml `demo.detector`), the aligned 48x48 crop, the registered
champion. Agreement alone proves nothing: a model that gives every face the same label agrees with
itself on every mirror image. So each invariance is measured against chance (the same labels
paired with another face's) and each check must also FAIL for a freshly initialised network (the
first study's CNN, untrained), in the same test.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facial_emotion.faces.boxes import iou
from facial_emotion.faces.crops import crop_faces
from facial_emotion.faces.detect import create_detector

pytestmark = pytest.mark.slow

ENLARGE, BORDER = 4, 64
# thresholds: measured 0.60 mirror agreement (chance 0.19) and 0.65 kept under a 10 degree turn
# for the tiny pipeline's champion, 0.91 / 0.78 and 0.93 / 0.78 for the untrained network
MOST, ABOVE_CHANCE = 0.55, 0.25


@pytest.fixture(scope="module")
def champion(tiny_pipeline):
    import mlflow

    from facial_emotion.faces.classifier import load_classifier

    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tiny_pipeline.tracking_uri)
    mlflow.set_registry_uri(tiny_pipeline.tracking_uri)
    try:
        yield load_classifier("models:/facial-emotion@champion")
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])


@pytest.fixture(scope="module")
def untrained():
    import keras

    from facial_emotion.faces.classifier import from_keras
    from facial_emotion.models.architectures import build_study1_cnn

    keras.utils.set_random_seed(0)
    return from_keras(build_study1_cnn(), "study CNN, freshly initialised")


def _frame(face: np.ndarray) -> np.ndarray:
    big = cv2.resize(face, None, fx=ENLARGE, fy=ENLARGE, interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_CONSTANT, value=int(np.median(face)))


def _turned(frame: np.ndarray, degrees: float) -> np.ndarray:
    centre = (frame.shape[1] / 2, frame.shape[0] / 2)
    turn = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(frame, turn, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def crops(tiny_pipeline):
    """Model input for each test face, its mirror image and its turns by +-10 degrees, for the
    faces YuNet finds in all four frames (the face nearest the frame's centre)."""
    detector = create_detector()
    params = detector.params
    faces = np.load(tiny_pipeline.root / "data" / "processed" / "test.npz")["images"]

    def crop(frame: np.ndarray) -> np.ndarray | None:
        found = detector.detect(frame)
        if not len(found):
            return None
        middles = found.boxes[:, :2] + found.boxes[:, 2:] / 2
        nearest = int(np.argmin(np.linalg.norm(middles - np.array(frame.shape[1::-1]) / 2, axis=1)))
        return crop_faces(frame, found.select([nearest]), params.crop, params.align)[0]

    views = {"face": [], "mirror": [], "turned +10": [], "turned -10": []}
    for face in faces:
        frame = _frame(face)
        got = {"face": crop(frame), "mirror": crop(cv2.flip(frame, 1)),
               "turned +10": crop(_turned(frame, 10)), "turned -10": crop(_turned(frame, -10))}
        if all(v is not None for v in got.values()):
            for name, value in got.items():
                views[name].append(value)
    assert len(views["face"]) >= 0.5 * len(faces), f"YuNet found {len(views['face'])} of {len(faces)} test faces"
    return {name: np.stack(value) for name, value in views.items()}


def _labels(classifier, images: np.ndarray) -> np.ndarray:
    return classifier(images).argmax(axis=1)


def _invariance(classifier, crops, changed: list[str]) -> tuple[float, float]:
    """(share of faces whose label the change keeps, the same share with labels paired to another face)."""
    base = _labels(classifier, crops["face"])
    kept, chance = [], []
    for name in changed:
        other = _labels(classifier, crops[name])
        kept.append(np.mean(base == other))
        chance.append(np.mean(base == np.roll(other, 1)))
    return float(np.mean(kept)), float(np.mean(chance))


def _passes(kept: float, chance: float) -> bool:
    return kept >= MOST and kept - chance >= ABOVE_CHANCE


def test_a_face_and_its_mirror_image_get_the_same_label(champion, untrained, crops):
    kept, chance = _invariance(champion, crops, ["mirror"])
    assert _passes(kept, chance), f"champion: {kept:.2f} of faces keep their label when mirrored (chance {chance:.2f})"
    kept, chance = _invariance(untrained, crops, ["mirror"])
    assert not _passes(kept, chance), \
        f"an untrained network passes too ({kept:.2f}, chance {chance:.2f}): the check proves nothing"


def test_a_face_turned_10_degrees_keeps_its_label_more_often_than_not(champion, untrained, crops):
    kept, chance = _invariance(champion, crops, ["turned +10", "turned -10"])
    assert kept > 0.5 and _passes(kept, chance), \
        f"champion: {kept:.2f} kept under a 10 degree turn (chance {chance:.2f})"
    kept, chance = _invariance(untrained, crops, ["turned +10", "turned -10"])
    assert not _passes(kept, chance), f"an untrained network passes too ({kept:.2f}, chance {chance:.2f})"


def test_a_blank_or_noise_image_is_not_classified_with_high_confidence(champion):
    """Through the real path nothing is classified: YuNet finds no face in a blank or noise frame.
    In the service's whole-image mode (serve.whole_image_fallback) the champion sees the image
    itself and must not be sure of anything. An untrained network, whose outputs are near uniform,
    passes this second half too; that half only bounds the champion."""
    rng = np.random.default_rng(0)
    images = [np.full((48, 48), value, np.uint8) for value in (0, 64, 128, 192, 255)]
    images += [rng.integers(0, 256, (48, 48)).astype(np.uint8) for _ in range(3)]
    images += [cv2.GaussianBlur(rng.integers(0, 256, (48, 48)).astype(np.uint8), (0, 0), 2) for _ in range(2)]
    detector = create_detector()
    assert all(len(detector.detect(_frame(image))) == 0 for image in images)
    confidence = champion(np.stack(images)).max(axis=1)
    assert confidence.max() < 0.9, confidence.round(3)


# The shipped model on real photos: measured 0.90 of 114 faces keep their label when mirrored
# (chance 0.47), 0.92 and 0.94 under +-10 degree turns (chance 0.45), at most 0.65 confidence on
# blank and noise images; the untrained network gives 113 of 114 faces one label.
REAL_MOST, REAL_ABOVE_CHANCE, REAL_BLANK_MAX = 0.8, 0.3, 0.8


@pytest.fixture(scope="module")
def shipped():
    from facial_emotion import pretrained
    from facial_emotion.faces.classifier import load_classifier

    return load_classifier(str(pretrained.MODEL_FILE))


@pytest.fixture(scope="module")
def real_crops():
    """Model input for each labelled face of tests/assets/faces as found in the photo, in the
    mirrored photo and in the photo turned by +-10 degrees about its centre (the detection that
    overlaps the face's moved label), for the faces found in all four."""
    from pathlib import Path

    from facial_emotion.faces.evaluation import load_labelled_set

    detector = create_detector()
    params = detector.params

    def crops(image: np.ndarray, labels: np.ndarray) -> list[np.ndarray | None]:
        found = detector.detect(image)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        out: list[np.ndarray | None] = []
        for label in labels:
            overlaps = iou(label[None], found.boxes)[0] if len(found) else np.zeros(1)
            best = int(np.argmax(overlaps))
            out.append(crop_faces(gray, found.select([best]), params.crop, params.align)[0]
                       if overlaps[best] >= 0.3 else None)
        return out

    views: dict[str, list[np.ndarray]] = {"face": [], "mirror": [], "turned +10": [], "turned -10": []}
    for photo in load_labelled_set(Path(__file__).resolve().parents[1] / "assets" / "faces"):
        if not len(photo.faces):
            continue
        image, faces = photo.read(), photo.faces
        height, width = image.shape[:2]
        mirrored = faces.copy()
        mirrored[:, 0] = width - faces[:, 0] - faces[:, 2]
        got = {"face": crops(image, faces), "mirror": crops(cv2.flip(image, 1), mirrored)}
        for degrees in (10, -10):
            turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
            turned = cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REFLECT)
            centres = np.c_[faces[:, :2] + faces[:, 2:] / 2, np.ones(len(faces))] @ turn.T
            moved = np.c_[centres - faces[:, 2:] / 2, faces[:, 2:]].astype(np.int64)
            got[f"turned {degrees:+d}"] = crops(turned, moved)
        for i in range(len(faces)):
            if all(got[name][i] is not None for name in got):
                for name in got:
                    views[name].append(got[name][i])
    assert len(views["face"]) >= 100, f"only {len(views['face'])} labelled faces found in all four views"
    return {name: np.stack(value) for name, value in views.items()}


def test_the_shipped_model_keeps_real_faces_labels_when_mirrored_or_turned(shipped, untrained, real_crops):
    for changed in (["mirror"], ["turned +10", "turned -10"]):
        kept, chance = _invariance(shipped, real_crops, changed)
        assert kept >= REAL_MOST and kept - chance >= REAL_ABOVE_CHANCE, \
            f"{changed}: {kept:.2f} kept (chance {chance:.2f})"
        kept, chance = _invariance(untrained, real_crops, changed)
        assert not (kept >= REAL_MOST and kept - chance >= REAL_ABOVE_CHANCE), \
            f"untrained passes too: {kept:.2f}, {chance:.2f}"


@pytest.mark.parametrize("which", ["fer2013", "ferplus"])
def test_the_shipped_models_are_unsure_of_blank_and_noise_images(which, real_crops):
    """Neither noise nor a blank frame is classified with confidence. The FER2013 model saw FER2013's
    blank placeholders, labelled at random; the FER+ model was trained with non-faces toward equal
    odds (`train.outlier_exposure`; measured top probability 0.13 on grey frames, 0.14 median and
    0.22 at most on 500 noise crops). YuNet finds no face in either (test above), so neither
    reaches a model in the demo, the service or the API; a caller feeding crops directly still
    gets "uncertain"."""
    from facial_emotion import pretrained
    from facial_emotion.faces.classifier import load_classifier

    model = load_classifier(str(pretrained.SHIPPED[which].onnx_file))
    rng = np.random.default_rng(0)
    blanks = np.stack([np.full((48, 48), value, np.uint8) for value in (0, 64, 128, 192, 255)])
    noise = np.stack([rng.integers(0, 256, (48, 48)).astype(np.uint8) for _ in range(5)])
    faces = model(real_crops["face"]).max(axis=1)
    for name, images in (("noise", noise), ("blank", blanks)):
        top = model(images).max(axis=1)
        assert top.max() < REAL_BLANK_MAX and top.mean() < np.median(faces), (name, top.round(3))
