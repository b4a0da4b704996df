"""The Python API on the labelled real photos in tests/assets/faces: the same faces and top classes
as the demo's own path (its detector, crops and the shipped Keras model through TensorFlow), the
labelled faces found, batching that changes nothing, and no TensorFlow on the way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facial_emotion import EmotionRecognizer, pretrained
from facial_emotion.faces.sources import SourceError

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "tests/assets/faces"
# Labelled photos: one face, several faces, a small group, and photos with no face at all.
NAMES = ["deepface-img1.jpg", "facerec-obama-and-biden.jpg", "facerec-two-people.jpg", "dlib-bald-guys.jpg",
         "deepface-couple.jpg", "facerec-kit-with-rose.jpg", "skimage-coffee.jpg", "animal-dog.jpg"]


@pytest.fixture(scope="module")
def recognizer() -> EmotionRecognizer:
    return EmotionRecognizer()


def _labelled(name: str) -> list[list[int]]:
    return json.loads((PHOTOS / "boxes.json").read_text())["images"][name]["faces"]


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w, h = min(ax + aw, bx + bw) - max(ax, bx), min(ay + ah, by + bh) - max(ay, by)
    inter = max(0, w) * max(0, h)
    return inter / (aw * ah + bw * bh - inter)


def test_the_labelled_faces_are_found_with_landmarks_and_probabilities(recognizer):
    assert recognizer.classes == ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral", "contempt")
    for name in NAMES:
        faces = recognizer.analyze(PHOTOS / name)
        labelled = _labelled(name)
        assert len(faces) == len(labelled), name
        for truth in labelled:
            assert max(_iou(truth, face.box) for face in faces) > 0.4, (name, truth)
        for face in faces:
            assert len(face.landmarks) == 5 and 0 < face.score <= 1
            assert list(face.probabilities) == list(recognizer.classes)
            assert abs(sum(face.probabilities.values()) - 1) < 1e-4
            assert face.label == max(face.probabilities, key=face.probabilities.get)


def test_same_faces_and_top_classes_as_the_demo_path(recognizer):
    pytest.importorskip("keras")
    from facial_emotion.faces.analyzer import FrameAnalyzer
    from facial_emotion.faces.classifier import load_classifier
    from facial_emotion.faces.detect import create_detector
    from facial_emotion.params.demo import DetectorParams
    from facial_emotion.faces.sources import read_image
    from facial_emotion.faces.tracker import FaceTracker
    from facial_emotion.params import defaults

    keras_model = load_classifier(str(pretrained.MODEL_FILE))
    assert keras_model.runtime == "keras predict_on_batch"
    tracker = FaceTracker(defaults.DEMO.tracker.model_copy(update={"min_hits": 1}))
    demo = FrameAnalyzer(create_detector(DetectorParams()), keras_model, tracker, still=True)  # the demo's photo path
    compared = 0
    for name in NAMES:
        demo.reset()
        frame = demo.analyze(read_image(PHOTOS / name))
        faces = recognizer.analyze(PHOTOS / name)
        assert [tuple(b) for b in frame.boxes.tolist()] == [f.box for f in faces], name
        by_box = {state.box: state for state in frame.states}
        for face in faces:
            state = by_box[face.box]
            assert recognizer.classes[state.raw_label] == face.label, (name, face.box)
            assert abs(state.raw_confidence - face.confidence) < 1e-4
            compared += 1
    assert compared >= 10


def test_analyze_many_batches_and_gives_what_analyze_gives(recognizer):
    paths = [PHOTOS / name for name in NAMES]
    one_by_one = [recognizer.analyze(p) for p in paths]
    for batch in (1, 3, 64):
        together = list(recognizer.analyze_many(iter(paths), batch_size=batch))
        assert [[f.box for f in faces] for faces in together] == [[f.box for f in faces] for faces in one_by_one]
        for a, b in zip(together, one_by_one):
            for fa, fb in zip(a, b):
                assert fa.label == fb.label
                np.testing.assert_allclose(list(fa.probabilities.values()), list(fb.probabilities.values()), atol=1e-5)


def test_arrays_are_accepted_and_an_unreadable_file_is_named(recognizer, tmp_path):
    import cv2

    image = cv2.imread(str(PHOTOS / "deepface-img1.jpg"))
    from_file = recognizer.analyze(PHOTOS / "deepface-img1.jpg")
    assert [f.box for f in recognizer.analyze(image)] == [f.box for f in from_file]
    assert len(recognizer.analyze(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))) == 1
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    with pytest.raises(SourceError, match="broken.jpg: cannot read image"):
        recognizer.analyze(broken)


def test_the_api_never_imports_tensorflow():
    code = ("import sys; from facial_emotion import EmotionRecognizer; "
            f"faces = EmotionRecognizer().analyze({str(PHOTOS / 'facerec-obama-and-biden.jpg')!r}); "
            "heavy = sorted(m for m in ('tensorflow', 'keras', 'mlflow', 'tf2onnx') if m in sys.modules); "
            "print(len(faces), heavy)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "3 []"
