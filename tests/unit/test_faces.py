"""Face detection, crops, sources, drawing and the demo CLI's errors, on a real photograph
(scikit-image's bundled astronaut, offline). No TensorFlow here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from facial_emotion.faces.detect import (DetectorParams, DetectorError, FaceDetector, crop_faces, crop_region,
                                         detect_and_crop, iou, to_gray)
from facial_emotion.faces.render import COLOURS, captioned_crop, draw_frame, make_grid
from facial_emotion.faces.sources import AstronautClip, ClipParams, SourceError, open_source
from facial_emotion.faces.tracker import FaceState
from facial_emotion.params import ParamsError

REPO = Path(__file__).resolve().parents[2]
# Haar (scaleFactor 1.3, minNeighbors 5) on the 512x512 astronaut photo.
ASTRONAUT_FACE = np.array([176, 66, 95, 95])


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def test_the_astronauts_face_is_found_where_it_is(astronaut_bgr):
    boxes, crops = detect_and_crop(astronaut_bgr, DetectorParams(scale_factor=1.3))
    assert len(boxes) == 1
    assert iou(boxes, ASTRONAUT_FACE[None])[0, 0] > 0.8
    assert crops.shape == (1, 48, 48) and crops.dtype == np.uint8


def test_default_params_find_the_face_in_gray_bgr_and_bgra_alike(astronaut_bgr):
    results = [detect_and_crop(image)[0] for image in
               (astronaut_bgr, to_gray(astronaut_bgr), cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2BGRA))]
    for boxes in results:
        assert iou(boxes, ASTRONAUT_FACE[None]).max() > 0.7
        np.testing.assert_array_equal(boxes, results[0])


def test_crops_are_the_face_with_margin_resized_by_area(astronaut_bgr):
    gray = to_gray(astronaut_bgr)
    x, y, w, h = ASTRONAUT_FACE
    (crop,) = crop_faces(gray, ASTRONAUT_FACE[None], margin=0.0)
    expected = cv2.resize(gray[y:y + h, x:x + w], (48, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(crop, expected)
    assert crop_region(gray, ASTRONAUT_FACE, 0.1).shape == (h + 2 * 10, w + 2 * 10)


def test_a_face_at_the_border_keeps_its_square_shape():
    image = np.arange(100 * 100, dtype=np.uint32).reshape(100, 100).astype(np.uint8)
    region = crop_region(image, np.array([-10, 80, 40, 40]), margin=0.25)
    assert region.shape == (60, 60)
    assert crop_faces(image, np.array([[-10, 80, 40, 40]])).shape == (1, 48, 48)


def test_detect_near_finds_a_tracked_face_and_nothing_far_from_it(astronaut_bgr):
    detector = FaceDetector(DetectorParams())
    gray = to_gray(astronaut_bgr)
    moved = ASTRONAUT_FACE + np.array([12, -8, 6, 6])
    near = detector.detect_near(gray, moved[None])
    assert len(near) == 1 and iou(near, ASTRONAUT_FACE[None])[0, 0] > 0.7
    assert len(detector.detect_near(gray, np.array([[380, 380, 60, 60]]))) == 0


def test_bad_images_and_params_are_one_line_errors():
    with pytest.raises(DetectorError, match="uint8"):
        to_gray(np.zeros((10, 10), np.float32))
    with pytest.raises(ParamsError, match="unknown key"):
        DetectorParams.from_dict({"scale": 1.1})
    with pytest.raises(ParamsError, match="scale_factor"):
        DetectorParams(scale_factor=1.0)


def test_astronaut_clip_moves_a_real_face_about_at_640x480():
    clip = AstronautClip(ClipParams(frames=20))
    frames = list(clip)
    assert len(frames) == 20 and frames[0].image.shape == (480, 640, 3) and frames[0].image.dtype == np.uint8
    assert not np.array_equal(frames[0].image, frames[5].image)
    detector = FaceDetector()
    for frame in (frames[0], frames[10]):
        assert len(detector.detect(to_gray(frame.image))) >= 1


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
