"""Face detection, crops, sources, drawing and the demo CLI's errors, on a real photograph
(scikit-image's bundled astronaut, offline). No TensorFlow here. The detectors on the labelled
set of real photos, alignment and the weights: test_detector.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from facial_emotion.faces.boxes import iou
from facial_emotion.faces.crops import crop_faces, crop_region
from facial_emotion.faces.detect import create_detector
from facial_emotion.faces.detections import DetectorError, Detections
from facial_emotion.faces.images import to_gray
from facial_emotion.faces.render import COLOURS, captioned_crop, draw_frame, make_grid
from facial_emotion.faces.sources import AstronautClip, SourceError, open_source
from facial_emotion.faces.tracker import FaceState
from facial_emotion.params import ParamsError, defaults
from facial_emotion.params.demo import CropParams, DetectorParams

REPO = Path(__file__).resolve().parents[2]
# Haar (scaleFactor 1.3, minNeighbors 5) and YuNet (params.yaml's defaults) on the 512x512 astronaut photo:
# YuNet's box also holds the forehead, so it is taller.
ASTRONAUT_FACE = np.array([176, 66, 95, 95])
ASTRONAUT_YUNET = np.array([178, 63, 90, 113])
HAAR = DetectorParams(kind="haar", align=False)


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def test_the_astronauts_face_is_found_where_it_is_by_both_detectors(astronaut_bgr):
    haar = create_detector(HAAR.model_copy(update={"haar": HAAR.haar.model_copy(update={"scale_factor": 1.3})}))
    found = haar.detect(astronaut_bgr)
    assert len(found) == 1 and found.landmarks is None
    assert iou(found.boxes, ASTRONAUT_FACE[None])[0, 0] > 0.8
    found = create_detector().detect(astronaut_bgr)
    assert len(found) == 1 and found.landmarks.shape == (1, 5, 2) and found.scores[0] > 0.9
    assert iou(found.boxes, ASTRONAUT_YUNET[None])[0, 0] > 0.9
    (right_eye, left_eye) = found.landmarks[0, :2]
    assert right_eye[0] < left_eye[0]  # the subject's right eye is on the image's left


@pytest.mark.parametrize("kind", ["yunet", "haar"])
def test_the_face_is_found_in_gray_bgr_and_bgra_alike(astronaut_bgr, kind):
    detector = create_detector(DetectorParams() if kind == "yunet" else HAAR)
    results = [detector.detect(image).boxes for image in
               (astronaut_bgr, to_gray(astronaut_bgr), cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2BGRA))]
    expected = ASTRONAUT_YUNET[None] if kind == "yunet" else ASTRONAUT_FACE[None]
    for boxes in results:
        assert len(boxes) == 1 and iou(boxes, expected).max() > 0.7
    np.testing.assert_array_equal(results[0], results[2])  # BGRA is BGR to both


def test_crops_are_the_square_with_margin_resized_by_area(astronaut_bgr):
    gray = to_gray(astronaut_bgr)
    x, y, w, h = ASTRONAUT_FACE
    (crop,) = crop_faces(gray, Detections(ASTRONAUT_FACE[None]), CropParams(margin=0.0, shift=0.0))
    expected = cv2.resize(gray[y:y + h, x:x + w], (48, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(crop, expected)
    assert crop_region(gray, ASTRONAUT_FACE, CropParams(margin=0.1, shift=0.0)).shape == (114, 114)  # 95 * 1.2


def test_crop_square_follows_the_longer_side_margin_and_shift():
    image = np.arange(400 * 400, dtype=np.uint32).reshape(400, 400).astype(np.uint8)
    box = np.array([100, 100, 80, 100])  # taller than wide: the square's side is the height
    region = crop_region(image, box, CropParams(margin=0.1, shift=0.0))
    assert region.shape == (120, 120)
    np.testing.assert_array_equal(region, image[90:210, 80:200])  # centred on the box
    shifted = crop_region(image, box, CropParams(margin=0.0, shift=-0.1))
    np.testing.assert_array_equal(shifted, image[90:190, 90:190])  # 10 px (0.1 of 100) higher
    tight = crop_region(image, box, CropParams(margin=-0.1, shift=0.0))
    assert tight.shape == (80, 80)


def test_a_face_at_the_border_keeps_its_square_shape():
    image = np.arange(100 * 100, dtype=np.uint32).reshape(100, 100).astype(np.uint8)
    region = crop_region(image, np.array([-10, 80, 40, 40]), CropParams(margin=0.25, shift=0.0))
    assert region.shape == (60, 60)
    assert crop_faces(image, Detections(np.array([[-10, 80, 40, 40]])),
                      CropParams(margin=0.1, shift=0.0)).shape == (1, 48, 48)


@pytest.mark.parametrize("kind", ["yunet", "haar"])
def test_detect_near_finds_a_tracked_face_and_nothing_far_from_it(astronaut_bgr, kind):
    detector = create_detector(DetectorParams() if kind == "yunet" else HAAR)
    truth = ASTRONAUT_YUNET if kind == "yunet" else ASTRONAUT_FACE
    moved = truth + np.array([12, -8, 6, 6])
    near = detector.detect_near(astronaut_bgr, moved[None])
    assert len(near) == 1 and iou(near.boxes, truth[None])[0, 0] > 0.7
    assert (near.landmarks is not None) == (kind == "yunet")
    assert len(detector.detect_near(astronaut_bgr, np.array([[380, 380, 60, 60]]))) == 0


def test_bad_images_are_one_line_errors():
    with pytest.raises(DetectorError, match="uint8"):
        to_gray(np.zeros((10, 10), np.float32))


@pytest.mark.parametrize(("detector", "message"), [
    ({"haar": {"scale": 1.1}}, r"demo\.detector\.haar\.scale: unknown key"),
    ({"kind": "haar", "align": False, "haar": {"scale_factor": 1.0}}, r"demo\.detector\.haar\.scale_factor: .*1"),
    ({"kind": "mtcnn"}, r"demo\.detector\.kind: .*'yunet' or 'haar'"),
    ({"kind": "haar"}, r"demo\.detector\.align: .*needs eye landmarks"),
    ({"yunet": {"score_threshold": 2}}, r"demo\.detector\.yunet\.score_threshold"),
])
def test_bad_detector_params_are_one_line_errors_from_the_schema(detector, message):
    from facial_emotion.params import read_yaml, validate

    raw = read_yaml(REPO / "params.yaml")
    raw["demo"]["detector"] = detector
    with pytest.raises(ParamsError, match=message) as error:
        validate(raw)
    assert "\n" not in str(error.value)


def test_astronaut_clip_moves_a_real_face_about_at_640x480():
    clip = AstronautClip(defaults.DEMO.clip.model_copy(update={"frames": 20}))
    frames = list(clip)
    assert len(frames) == 20 and frames[0].image.shape == (480, 640, 3) and frames[0].image.dtype == np.uint8
    assert not np.array_equal(frames[0].image, frames[5].image)
    detector = create_detector()
    for frame in (frames[0], frames[10]):
        assert len(detector.detect(frame.image)) >= 1


def test_missing_unreadable_and_empty_sources_are_one_line_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "nope.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images"):
        open_source(tmp_path / "empty")
    bad_video = tmp_path / "clip.mp4"
    bad_video.write_bytes(b"not a video")
    with pytest.raises(SourceError, match="cannot read video"):
        open_source(bad_video)
    bad_image = tmp_path / "photo.png"
    bad_image.write_bytes(b"not an image")
    with pytest.raises(SourceError, match="cannot read image"):
        list(open_source(bad_image))
    with pytest.raises(SourceError, match="camera 97 could not be opened"):
        open_source("97")


def test_a_folder_of_photos_reads_them_in_name_order_as_independent_frames(tmp_path, astronaut_bgr):
    for name in ("b.png", "a.jpg"):
        cv2.imwrite(str(tmp_path / name), astronaut_bgr)
    (tmp_path / "notes.txt").write_text("skip me")
    source = open_source(tmp_path)
    assert source.independent and [f.name for f in source] == ["a.jpg", "b.png"]


def _state(box=(100, 80, 120, 120), label=3) -> FaceState:
    probs = np.full(7, 0.05)
    probs[label] = 0.7
    return FaceState(1, box, probs, label, label, 0.7, True, True)


def test_drawing_boxes_the_face_and_leaves_the_rest(astronaut_bgr):
    frame = np.full((480, 640, 3), 128, np.uint8)
    draw_frame(frame, [_state()], fps=30.0, latency_ms=8.0)
    assert tuple(frame[150, 100]) == COLOURS[3]  # the box's left edge, in the label's colour
    assert (frame[400:, 400:] == 128).all()


def test_grid_rows_tile_order_and_colours():
    tiles = [np.full((30, 20, 3), (i * 40, 10, 250 - i * 40), np.uint8) for i in range(5)]
    grid = make_grid(tiles, columns=4, gap=2)
    assert grid.shape == (2 * 30 + 3 * 2, 4 * 20 + 5 * 2, 3)  # 5 tiles in rows of 4: 2 rows
    np.testing.assert_array_equal(grid[2 + 32, 2], tiles[4][0, 0])  # fifth tile opens row 2, BGR as given
    assert make_grid(tiles[:2], columns=4).shape[1] == 2 * 20 + 3 * 4  # no empty columns
    tile = captioned_crop(np.zeros((60, 60, 3), np.uint8), "happiness 70%", COLOURS[3], size=48)
    assert tile.shape == (48 + 22, 48, 3)


@pytest.mark.parametrize("args, message", [
    (["--source", "/no/such/video.mp4", "--no-window"], "error: /no/such/video.mp4: no such file"),
    (["--source", "97", "--no-window"], "error: camera 97 could not be opened"),
    pytest.param(["--source", "astronaut"], "error: no display to show the window on",
                 marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the DISPLAY check is Linux's")),
])
def test_demo_cli_reports_a_bad_source_in_one_line(args, message, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "facial_emotion.faces.demo", *args, "--out", str(tmp_path / "out")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
