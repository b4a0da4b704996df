"""Kaggle's image-folder layout: aliases, usage, resizing, and a clear word about every bad file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facial_emotion.data.dataset import IngestError
from facial_emotion.data.folders import read_image_folders
from facial_emotion.labels import EMOTIONS, IMAGE_SIZE


def face(value: int) -> np.ndarray:
    """A 48x48 gray face with a gradient, so a wrong orientation or resize shows."""
    ramp = np.add.outer(np.arange(IMAGE_SIZE), np.arange(IMAGE_SIZE)).astype(np.int64)
    return ((ramp + value) % 256).astype(np.uint8)


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image), path
    return path


@pytest.fixture
def layout(tmp_path) -> Path:
    """train/{Angry,HAPPY,sadness} and test/neutral, PNG and JPG, one image each (two for HAPPY)."""
    write_image(tmp_path / "train" / "Angry" / "a.png", face(10))
    write_image(tmp_path / "train" / "HAPPY" / "b.png", face(20))
    write_image(tmp_path / "train" / "HAPPY" / "c.jpg", face(30))
    write_image(tmp_path / "train" / "sadness" / "d.png", face(40))
    write_image(tmp_path / "test" / "neutral" / "e.png", face(50))
    return tmp_path


def test_aliases_map_to_labels_and_test_becomes_public_test(layout) -> None:
    ds, sha = read_image_folders(layout)
    names = [EMOTIONS[label] for label in ds.labels]
    assert names == ["anger", "happiness", "happiness", "sadness", "neutral"]
    assert ds.usage.tolist() == ["Training"] * 4 + ["PublicTest"]
    assert ds.images.dtype == np.uint8 and ds.images.shape == (5, IMAGE_SIZE, IMAGE_SIZE)
    assert ds.labels.dtype == np.int64
    assert np.array_equal(ds.rows, np.arange(5))
    assert np.array_equal(ds.images[0], face(10)) and np.array_equal(ds.images[4], face(50))  # PNG: lossless
    assert np.abs(ds.images[2].astype(int) - face(30)).max() <= 8  # JPG: lossy
    assert not ds.rejected and any("PublicTest" in note for note in ds.notes)
    assert len(sha) == 64


def test_hash_follows_the_content(layout) -> None:
    _, before = read_image_folders(layout)
    assert read_image_folders(layout)[1] == before
    write_image(layout / "train" / "Angry" / "a.png", face(11))
    assert read_image_folders(layout)[1] != before


def test_colour_image_of_another_size_becomes_gray_48x48(tmp_path) -> None:
    colour = np.zeros((100, 80, 3), dtype=np.uint8)
    colour[..., 0] = np.linspace(0, 255, 80, dtype=np.uint8)[None, :]  # blue ramp left to right
    colour[..., 2] = np.linspace(0, 255, 100, dtype=np.uint8)[:, None]  # red ramp top to bottom
    write_image(tmp_path / "train" / "fear" / "big.png", colour)
    ds, _ = read_image_folders(tmp_path)
    assert ds.images.shape == (1, IMAGE_SIZE, IMAGE_SIZE) and ds.images.dtype == np.uint8
    expected = cv2.resize(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY), (IMAGE_SIZE, IMAGE_SIZE),
                          interpolation=cv2.INTER_AREA)
    assert np.abs(ds.images[0].astype(int) - expected).max() <= 1
    assert ds.labels.tolist() == [EMOTIONS.index("fear")]


def test_small_image_is_enlarged_to_48x48(tmp_path) -> None:
    write_image(tmp_path / "train" / "surprise" / "small.png", np.full((24, 30), 99, dtype=np.uint8))
    ds, _ = read_image_folders(tmp_path)
    assert ds.images.shape == (1, IMAGE_SIZE, IMAGE_SIZE) and (ds.images == 99).all()


def test_unknown_class_folder(layout) -> None:
    write_image(layout / "train" / "contempt" / "x.png", face(1))
    write_image(layout / "train" / "contempt" / "y.png", face(2))
    with pytest.raises(IngestError) as info:
        read_image_folders(layout)
    message = str(info.value)
    assert str(layout / "train" / "contempt") in message and "unknown class folder 'contempt'" in message
    ds, _ = read_image_folders(layout, "skip")
    assert len(ds) == 5 and dict(ds.rejected) == {"unknown_class_folder": 2}


def test_zero_byte_image(layout) -> None:
    empty = layout / "train" / "HAPPY" / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match=f"^{empty}: zero-byte file$"):
        read_image_folders(layout)
    ds, _ = read_image_folders(layout, "skip")
    assert len(ds) == 5 and dict(ds.rejected) == {"empty_file": 1}


def test_text_file_with_png_suffix(layout) -> None:
    fake = layout / "test" / "neutral" / "notes.png"
    fake.write_text("not an image\n")
    with pytest.raises(IngestError, match=f"^{fake}: not a readable image$"):
        read_image_folders(layout)
    ds, _ = read_image_folders(layout, "skip")
    assert len(ds) == 5 and dict(ds.rejected) == {"unreadable_image": 1}


def test_file_outside_a_class_folder(layout) -> None:
    stray = write_image(layout / "train" / "stray.png", face(3))
    with pytest.raises(IngestError, match=f"^{stray}: file outside a class folder"):
        read_image_folders(layout)
    ds, _ = read_image_folders(layout, "skip")
    assert len(ds) == 5 and dict(ds.rejected) == {"outside_class_folder": 1}


def test_skip_mode_counts_every_reason_and_keeps_good_images_in_order(layout) -> None:
    (layout / "train" / "Angry" / "empty.png").write_bytes(b"")
    (layout / "train" / "sadness" / "bad.jpg").write_text("text")
    write_image(layout / "test" / "bored" / "x.png", face(4))
    ds, _ = read_image_folders(layout, "skip")
    assert [EMOTIONS[label] for label in ds.labels] == ["anger", "happiness", "happiness", "sadness", "neutral"]
    assert np.array_equal(ds.images[0], face(10))
    assert dict(ds.rejected) == {"empty_file": 1, "unreadable_image": 1, "unknown_class_folder": 1}


def test_hidden_files_are_ignored(layout) -> None:
    (layout / "train" / "Angry" / ".DS_Store").write_bytes(b"\0junk")
    (layout / "train" / ".cache").mkdir()
    ds, _ = read_image_folders(layout)
    assert len(ds) == 5 and not ds.rejected


def test_no_readable_images_is_an_error(tmp_path) -> None:
    (tmp_path / "train" / "happy").mkdir(parents=True)
    with pytest.raises(IngestError, match="no readable images"):
        read_image_folders(tmp_path)


def test_unknown_on_bad_row_mode(layout) -> None:
    with pytest.raises(IngestError, match="on_bad_row"):
        read_image_folders(layout, "warn")
