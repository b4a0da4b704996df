"""`facial-emotion analyze` as a user runs it: a folder with good, unreadable, face-free and other
files, a short video made here, glob patterns, bad arguments; rows, counts, exit status, one-line
errors, whole outputs, and no TensorFlow."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from facial_emotion.inference.command import main

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "tests/assets/faces"
CLASSES = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral", "contempt"]  # the default


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    shutil.copy(PHOTOS / "deepface-img1.jpg", root / "one.jpg")
    shutil.copy(PHOTOS / "facerec-obama-and-biden.jpg", root / "three.jpg")
    (root / "nested").mkdir()
    shutil.copy(PHOTOS / "facerec-two-people.jpg", root / "nested" / "two.jpg")
    shutil.copy(PHOTOS / "skimage-coffee.jpg", root / "coffee.jpg")  # no face
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # unreadable
    (root / "notes.txt").write_text("not a photo")  # neither photo nor video: ignored
    return root


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """Ten frames at 5 fps: six of a face, then four blank ones."""
    face = cv2.imread(str(PHOTOS / "deepface-img1.jpg"))
    face = cv2.resize(face, (320, 320 * face.shape[0] // face.shape[1] // 2 * 2))
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, face.shape[1::-1])
    assert writer.isOpened()
    for i in range(10):
        writer.write(face if i < 6 else np.zeros_like(face))
    writer.release()
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_folder_gives_one_row_per_face_and_counts_the_rest(folder, tmp_path, capsys):
    out, jsonl = tmp_path / "faces.csv", tmp_path / "faces.jsonl"
    status = main(["analyze", str(folder), "--csv", str(out), "--json", str(jsonl)])
    err = capsys.readouterr().err
    assert status == 1  # one file could not be read; the others' rows are written all the same
    rows = _rows(out)
    assert list(rows[0])[:9] == ["file", "frame", "time_s", "face", "x", "y", "width", "height", "score"]
    assert list(rows[0])[9:] == [*CLASSES, "label", "confidence", "uncertain"]
    per_file = {name: sum(Path(r["file"]).name == name for r in rows) for name in ("one.jpg", "three.jpg", "two.jpg")}
    assert per_file == {"one.jpg": 1, "three.jpg": 3, "two.jpg": 2} and len(rows) == 6
    for row in rows:
        probabilities = [float(row[c]) for c in CLASSES]
        assert abs(sum(probabilities) - 1) < 1e-3 and row["label"] == CLASSES[int(np.argmax(probabilities))]
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == 6 and len(records[0]["landmarks"]) == 5 and records[0]["frame"] is None
    assert "4 photos, 0 videos (0 frames) -> 6 faces" in err
    assert "no face found: 1 photo: " in err and "coffee.jpg" in err
    assert "unreadable: 1 file" in err and "broken.png: cannot read image" in err
    assert "ignored (not a photo or video): 1 file" in err and "notes.txt" in err
    assert f"wrote {out} (6 rows)" in err and "Traceback" not in err


def test_a_video_gives_rows_per_frame_with_times(video, tmp_path, capsys):
    out = tmp_path / "video.csv"
    assert main(["analyze", str(video), "--csv", str(out), "--every", "2"]) == 0
    err = capsys.readouterr().err
    rows = _rows(out)
    assert [int(r["frame"]) for r in rows] == [0, 2, 4]
    assert [float(r["time_s"]) for r in rows] == [0.0, 0.4, 0.8]
    assert {r["label"] for r in rows} == {"happiness"}
    assert "0 photos, 1 video (5 frames) -> 3 faces" in err and "no face found: 2 video frames" in err


def test_without_outputs_the_csv_goes_to_stdout_and_patterns_expand(folder, capsys):
    assert main(["analyze", str(folder / "**" / "t*.jpg")]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith("file,frame,time_s") and len(lines) == 1 + 3 + 2
    assert "2 photos" in captured.err


@pytest.mark.parametrize("args, message", [
    (["analyze", "no/such/photo.jpg"], "no/such/photo.jpg: no such file or folder"),
    (["analyze", "no/such/*.jpg"], "no/such/*.jpg: the pattern matches no file"),
    (["analyze", "{folder}/notes.txt", "--model", "missing.onnx"], "missing.onnx: no such model file"),
    (["analyze", "{folder}/one.jpg", "--model", "weights.bin"], "weights.bin: expected 'shipped', an .onnx"),
])
def test_bad_input_is_one_line_and_status_1_with_nothing_written(folder, tmp_path, capsys, args, message):
    out = tmp_path / "faces.csv"
    status = main([a.format(folder=folder) for a in args] + ["--csv", str(out)])
    err = capsys.readouterr().err
    assert status == 1 and message in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_a_bad_command_line_is_status_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", "x.jpg", "--every", "0"])
    assert exit_info.value.code == 2 and "--every: expected a whole number >= 1" in capsys.readouterr().err


def test_the_command_never_imports_tensorflow(folder, tmp_path):
    code = ("import sys; from facial_emotion.inference.command import main; "
            f"status = main(['analyze', {str(folder)!r}, '--csv', {str(tmp_path / 'f.csv')!r}]); "
            "print(status, sorted(m for m in ('tensorflow', 'keras', 'mlflow', 'tf2onnx') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "1 []", result.stderr[-2000:]
    assert len(_rows(tmp_path / "f.csv")) == 6
