"""The face detectors on the committed set of real photos (tests/assets/faces), alignment by the
eyes at any angle, the photo path's second look and turned scans, the shipped YuNet weights, and
that the demo and the web service use the configured detector."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from facial_emotion.faces.boxes import iou
from facial_emotion.faces.crops import crop_faces, eye_angle
from facial_emotion.faces.detect import create_detector
from facial_emotion.faces.detections import Detections
from facial_emotion.params.demo import DetectorParams
from facial_emotion.faces.evaluation import Score, combine_scores, face_kinds, load_labelled_set, recall_by, score_image
from facial_emotion.faces.haar import HaarDetector
from facial_emotion.faces.yunet import WEIGHTS_SHA256, YuNetDetector, tile_starts, weights_path

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "tests" / "assets" / "faces"
HAAR = DetectorParams(kind="haar", align=False)


@pytest.fixture(scope="module")
def photos():
    return load_labelled_set(PHOTOS)


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def test_the_labelled_set_is_what_its_readme_promises(photos):
    with_faces = [p for p in photos if len(p.faces)]
    without = [p for p in photos if not len(p.faces) and not len(p.ignore)]
    assert len(with_faces) >= 90 and sum(len(p.faces) for p in with_faces) >= 380 and len(without) >= 20
    assert sum(f.stat().st_size for f in PHOTOS.iterdir()) < 10 * 1024 * 1024
    sources = (PHOTOS / "sources.csv").read_text().splitlines()
    assert {line.split(",")[0] for line in sources[1:]} == {p.name for p in photos}
    # issue 40's additions: faces under 40 px in photos of >= 2 MP, turned, covered, in profile
    kinds = recall_by([(k, True) for p in photos if p.part == "added"
                       for k in face_kinds(p, _megapixels(p))])
    assert kinds["small in >= 2 MP"][1] >= 30 and kinds["turned"][1] >= 10
    assert kinds["covered"][1] >= 15 and kinds["profile"][1] >= 10
    added_photos = {p.name for p in photos if p.part == "added"}
    assert len({line.split(",")[2] for line in sources[1:] if line.split(",")[0] in added_photos}) >= 3


def _megapixels(photo) -> float:
    height, width = cv2.imread(str(photo.path), cv2.IMREAD_REDUCED_GRAYSCALE_2).shape
    return height * width * 4 / 1e6


def test_yunet_boxes_faces_and_only_faces_on_real_photos(photos):
    """The video-frame path (one pass at max_side) on the original photos: measured 0.992 precision
    and 1.000 recall at params.yaml's settings (docs/detector.md); Haar scores 0.865 precision on
    the same photos, so a regression to its false alarms fails here."""
    detector = create_detector()
    score = Score()
    for photo in photos:
        if photo.part == "original":
            score_image(photo, detector.detect(photo.read()).boxes, score)
    assert score.precision >= 0.97, score.false_alarm_at
    assert score.recall >= 0.93, score.missed_at
    # at score_threshold 0.8 a dog's face (0.85) is the one box on a photo with no person (docs/detector.md)
    fooled = {where for where, _ in score.false_alarm_at if where.startswith(("clothes-", "animal-", "skimage-"))}
    assert fooled <= {"animal-dogs.jpg"}


@pytest.mark.slow
def test_the_photo_path_on_the_whole_enlarged_set(photos):
    """params.yaml's photo path (second look, turned scans) on every labelled photo; margins under
    the figures measured by benchmarks/face_detection.py (docs/detector.md)."""
    from facial_emotion.faces.startup import read_app_params

    detector = create_detector(read_app_params(REPO / "params.yaml").demo.detector)
    parts = {"original": Score(), "added": Score()}
    found = []
    for photo in photos:
        pixels = photo.read()
        hits = score_image(photo, detector.detect(pixels, still=True).boxes, parts[photo.part])
        found.extend(zip(face_kinds(photo, pixels.shape[0] * pixels.shape[1] / 1e6), hits))
    total = combine_scores(parts.values())
    assert total.precision >= 0.97, total.false_alarm_at
    assert total.recall >= 0.90, total.missed_at
    assert parts["original"].recall >= 0.97 and parts["added"].recall >= 0.86
    recall = {kind: hits / n for kind, (hits, n) in recall_by(found).items()}
    assert recall["small in >= 2 MP"] >= 0.85 and recall["covered"] >= 0.7
    assert recall["turned"] >= 0.6 and recall["profile"] >= 0.4


def test_a_small_face_in_a_large_photo_is_found_only_with_the_second_look(astronaut_bgr):
    """The astronaut's face shrunk to about 32 px in a 3000x2000 photo: at max_side 640 it is 7 px,
    below YuNet's reach, so the video path misses it; the photo path's second look finds it."""
    face = astronaut_bgr[30:230, 140:320]
    small = cv2.resize(face, None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA)
    canvas = np.full((2000, 3000, 3), 120, np.uint8)
    canvas += np.random.default_rng(0).integers(0, 30, canvas.shape, dtype=np.uint8)
    y0, x0 = 1300, 2100
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    where = np.array([[x0 + (178 - 140) * 0.35, y0 + (64 - 30) * 0.35, 90 * 0.35, 111 * 0.35]])
    for mode in ("tiles", "full"):
        params = DetectorParams(yunet=DetectorParams().yunet.model_copy(update={"second_look": mode}))
        detector = create_detector(params)
        assert not len(detector.detect(canvas)), "the video path should not see a 7 px face"
        found = detector.detect(canvas, still=True)
        assert len(found) == 1 and iou(found.boxes, where)[0, 0] >= 0.5, (mode, found.boxes)
    off = DetectorParams(yunet=DetectorParams().yunet.model_copy(update={"second_look": "off"}))
    assert not len(create_detector(off).detect(canvas, still=True))


@pytest.mark.parametrize(("length", "tile", "overlap"), [
    (1155, 640, 54), (866, 640, 54), (2048, 640, 96), (641, 640, 32), (640, 640, 32), (300, 640, 32), (5000, 640, 320)])
def test_tiles_cover_the_side_with_at_least_the_overlap_and_no_more_tiles_than_needed(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length  # the ends are covered
    shared = [a + tile - b for a, b in zip(starts, starts[1:])]
    assert all(s >= overlap for s in shared), shared  # a face up to `overlap` wide is whole in some tile
    if len(starts) > 2:  # one tile fewer, evenly spaced, would share less than the overlap
        assert (length - tile) / (len(starts) - 2) > tile - overlap


def test_tiny_images_after_a_large_one_give_no_garbage_boxes(astronaut_bgr):
    """YuNet (OpenCV 4.14) on an input of 32 px or less, once the same net has seen a larger one,
    returns boxes at about 1e29 from memory left over: the service crashed on a 48x48 upload whose
    turned scans run at 24 px. Such inputs are padded and implausible rows dropped."""
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    patch = cv2.resize(gray[380:475, 60:155], (48, 48), interpolation=cv2.INTER_AREA)  # a shoulder, no face
    face = cv2.resize(gray[66:161, 176:271], (48, 48), interpolation=cv2.INTER_AREA)
    large = cv2.imread(str(PHOTOS / "facerec-obama-and-biden.jpg"))
    detector = YuNetDetector()
    for _ in range(10):
        detector.detect(large, still=True)  # a large input first, on every thread's net
        assert len(detector.detect(patch, still=True)) == 0
        found = detector.detect(face, still=True)
        assert len(found) == 1 and np.all(np.abs(found.boxes) < 100), found.boxes
        for side in (16, 24, 32):  # one pass straight on a tiny input, after a large one on the same net
            detector._run(large, 1.0)
            tiny = detector._run(cv2.cvtColor(cv2.resize(patch, (side, side)), cv2.COLOR_GRAY2BGR), 1.0)
            assert np.all(np.abs(tiny.boxes) < 4 * side), tiny.boxes


def test_the_photo_paths_passes_give_the_same_faces_on_one_thread_or_several(photos):
    """The passes run in parallel on OpenCV's thread count, each thread with its own YuNet: the
    faces (and their refined landmarks) are those of the same passes run one after another."""
    crowd = max((p for p in photos if len(p.faces)), key=lambda p: len(p.faces)).read()
    params = DetectorParams(yunet=DetectorParams().yunet.model_copy(update={"turned": True}))
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        serial = create_detector(params).detect(crowd, still=True)
        cv2.setNumThreads(4)
        parallel = create_detector(params).detect(crowd, still=True)
    finally:
        cv2.setNumThreads(before)
    assert len(serial) > 10
    np.testing.assert_array_equal(parallel.boxes, serial.boxes)
    np.testing.assert_allclose(parallel.landmarks, serial.landmarks, atol=1e-3)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_a_face_turned_90_or_180_degrees_is_found_and_cropped_upright(astronaut_bgr, turns):
    """The astronaut photo turned by quarter turns: the photo path with `turned` finds her face, the
    landmarks read the turn back, and the aligned crop matches the upright face's crop."""
    params = DetectorParams(yunet=DetectorParams().yunet.model_copy(update={"turned": True}))
    detector = create_detector(params)
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    upright = detector.detect(astronaut_bgr, still=True)
    assert len(upright) == 1
    reference = crop_faces(gray, upright, params.crop, align=True)[0]

    turned = np.ascontiguousarray(np.rot90(astronaut_bgr, turns))
    found = detector.detect(turned, still=True)
    assert len(found) == 1, found.boxes
    read = (eye_angle(found.landmarks[0]) - eye_angle(upright.landmarks[0]) + 180) % 360 - 180  # in [-180, 180)
    # np.rot90 turns the picture anticlockwise: the eye line reads -90 per quarter turn
    if turns == 2:
        assert abs(read) == pytest.approx(180, abs=10)
    else:
        assert read == pytest.approx(-90 if turns == 1 else 90, abs=10)
    aligned = crop_faces(np.ascontiguousarray(np.rot90(gray, turns)), found, params.crop, align=True)[0]
    similarity = np.corrcoef(aligned.ravel().astype(float), reference.ravel().astype(float))[0, 1]
    assert similarity > 0.75


def test_turned_scans_are_only_for_photos(astronaut_bgr):
    """Upside down, YuNet's upright pass still boxes the face (score 0.85) but reads it upright, so
    its crop is upside down; the turned scan reads it right. Video frames keep one pass."""
    params = DetectorParams(yunet=DetectorParams().yunet.model_copy(update={"turned": True}))
    detector = create_detector(params)
    upside_down = np.ascontiguousarray(np.rot90(astronaut_bgr, 2))
    frame, photo = detector.detect(upside_down), detector.detect(upside_down, still=True)
    plain = create_detector(DetectorParams()).detect(upside_down)
    assert np.array_equal(frame.boxes, plain.boxes) and np.allclose(frame.landmarks, plain.landmarks)
    assert len(frame) == len(photo) == 1
    assert abs(eye_angle(frame.landmarks[0])) < 45 and abs(eye_angle(photo.landmarks[0])) > 135


def test_haar_boxes_clothes_animals_and_coins_where_yunet_boxes_nothing(photos):
    """The check above can fail: on the photos with no face, Haar finds 'faces' and YuNet at most a dog's face."""
    empty = [p for p in photos if not len(p.faces) and not len(p.ignore)]
    haar, yunet = create_detector(HAAR), create_detector()
    fooled = {"haar": set(), "yunet": set()}
    for photo in empty:
        image = photo.read()
        for name, detector in (("haar", haar), ("yunet", yunet)):
            if len(detector.detect(image)):
                fooled[name].add(photo.name)
    assert len(fooled["haar"]) >= 3 and fooled["yunet"] <= {"animal-dogs.jpg"}, fooled


def test_the_weights_are_the_verified_file_and_load_with_no_network(monkeypatch, astronaut_bgr):
    path = weights_path()
    assert path.is_file() and "facial_emotion" in path.parts  # package data, not a download cache
    assert hashlib.sha256(path.read_bytes()).hexdigest() == WEIGHTS_SHA256

    def no_network(*args, **kwargs):
        raise AssertionError("the detector tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert len(YuNetDetector().detect(astronaut_bgr)) == 1


def test_missing_weights_are_a_one_line_error(tmp_path):
    from facial_emotion.faces.detections import DetectorError

    with pytest.raises(DetectorError, match="YuNet weights missing"):
        YuNetDetector(weights=tmp_path / "none.onnx")


def test_eye_angle_is_positive_when_the_eye_on_the_right_is_lower():
    level = np.array([[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]], np.float32)
    assert eye_angle(level) == pytest.approx(0.0)
    tilted = level.copy()
    tilted[1] = (30, 40)  # the eye on the image's right, 20 px lower over 20 px: 45 degrees
    assert eye_angle(tilted) == pytest.approx(45.0)


@pytest.mark.parametrize("angle", [-20, -10, 10, 20])
def test_a_rotated_face_is_found_tilted_by_that_angle_and_cropped_upright(astronaut_bgr, angle):
    """The astronaut photo turned by a known angle about her face: the eyes give the angle back
    (within 8 degrees; measured median error 2 degrees over 132 turned faces, docs/detector.md),
    and the aligned crop matches the upright face's crop far better than an unaligned one."""
    detector = create_detector()
    unaligned = create_detector(DetectorParams(align=False))
    upright = detector.detect(astronaut_bgr)
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    reference = crop_faces(gray, upright, detector.params.crop, align=True)[0]

    # cv2's positive angle turns the picture anticlockwise, which raises the eye on the image's right
    turn = cv2.getRotationMatrix2D((223.0, 120.0), angle, 1.0)
    turned = cv2.warpAffine(astronaut_bgr, turn, (512, 512), borderMode=cv2.BORDER_REFLECT)
    found = detector.detect(turned)
    assert len(found) == 1
    measured = eye_angle(found.landmarks[0]) - eye_angle(upright.landmarks[0])
    assert measured == pytest.approx(-angle, abs=8.0)

    turned_gray = cv2.cvtColor(turned, cv2.COLOR_BGR2GRAY)
    aligned = crop_faces(turned_gray, found, detector.params.crop, align=True)[0]
    plain = crop_faces(turned_gray, unaligned.detect(turned), detector.params.crop, align=False)[0]

    def similarity(a, b):
        return np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]

    assert similarity(aligned, reference) > 0.75
    assert similarity(aligned, reference) > similarity(plain, reference) + 0.05


def test_align_needs_landmarks():
    with pytest.raises(ValueError, match="landmarks"):
        crop_faces(np.zeros((100, 100), np.uint8), Detections(np.array([[10, 10, 50, 50]])),
                   DetectorParams().crop, align=True)


def test_the_params_choose_the_detector(tmp_path):
    assert isinstance(create_detector(DetectorParams(kind="haar", align=False)), HaarDetector)
    assert isinstance(create_detector(DetectorParams()), YuNetDetector)
    import yaml

    from facial_emotion.faces.startup import read_app_params

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["demo"]["detector"]["kind"] == "yunet"  # the default, documented in docs/detector.md
    params["demo"]["detector"].update(kind="haar", align=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    detector = read_app_params(tmp_path / "params.yaml").demo.detector
    assert detector.kind == "haar" and detector.haar.min_neighbors == 5


def _constant_classifier():
    from facial_emotion.faces.emotion_classifier import EmotionClassifier

    return EmotionClassifier(lambda crops: np.tile(np.eye(7, dtype=np.float32)[3], (len(crops), 1)), "stub")


@pytest.mark.parametrize("kind", ["yunet", "haar"])
def test_the_demo_uses_the_configured_detector(tmp_path, kind):
    from facial_emotion.faces.demo import run_demo
    from facial_emotion.faces.sources import open_source
    from facial_emotion.params import defaults

    photo = tmp_path / "photos" / "suit.jpg"
    photo.parent.mkdir()
    # Haar boxes this suit and tie as a face; YuNet does not (tests/assets/faces, facerec-alex-lacamoire1.jpg).
    cv2.imwrite(str(photo), cv2.imread(str(PHOTOS / "facerec-alex-lacamoire1.jpg")))
    demo = defaults.DEMO.model_copy(update={"detector": DetectorParams(kind=kind, align=kind == "yunet")})
    summary = run_demo(open_source(photo.parent, demo.clip), _constant_classifier(), demo, tmp_path / "out")
    assert summary["detector"] == kind and summary["aligned"] == (kind == "yunet")
    assert summary["face_detections"] == (1 if kind == "yunet" else 2)


@pytest.mark.parametrize("kind", ["yunet", "haar"])
def test_the_service_uses_the_configured_detector(kind):
    from facial_emotion.serve.predict import EmotionService

    from facial_emotion.params.load import read_yaml, validate

    raw = read_yaml(REPO / "params.yaml")
    raw["demo"]["detector"].update(kind=kind, align=kind == "yunet")
    params = validate(raw)[0]
    service = EmotionService(_constant_classifier(), params.serve, params.demo.detector)
    assert isinstance(service.detector, YuNetDetector if kind == "yunet" else HaarDetector)
    ok, jpeg = cv2.imencode(".jpg", cv2.imread(str(PHOTOS / "facerec-alex-lacamoire1.jpg")))
    faces = service.predict(jpeg.tobytes())["faces"]
    assert len(faces) == (1 if kind == "yunet" else 2)
