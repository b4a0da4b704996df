"""The synthetic FER2013 stand-in: exact format, FER proportions, determinism, learnable but not trivial."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest

from facial_emotion.data.synthetic import (
    FER2013_CLASS_COUNTS,
    FER2013_USAGE_COUNTS,
    allocate_counts,
    generate_faces,
    generate_fer_csv,
    write_fer_csv,
)
from facial_emotion.labels import EMOTIONS, IMAGE_SIZE, NUM_CLASSES, USAGES

DISGUST = EMOTIONS.index("disgust")
PIXEL = re.compile(r"0|[1-9][0-9]{0,2}")


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return generate_faces(350, seed=3)


def test_fer2013_constants_match_the_real_file() -> None:
    assert len(FER2013_CLASS_COUNTS) == NUM_CLASSES
    assert sum(FER2013_CLASS_COUNTS) == sum(FER2013_USAGE_COUNTS.values()) == 35887
    assert tuple(FER2013_USAGE_COUNTS) == USAGES


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_same_seed_gives_identical_bytes(tmp_path, suffix: str) -> None:
    first, second = tmp_path / "a" / f"fer2013{suffix}", tmp_path / "b" / f"fer2013{suffix}"
    generate_fer_csv(first, n_rows=300, seed=11)
    generate_fer_csv(second, n_rows=300, seed=11)
    assert first.read_bytes() == second.read_bytes()
    assert not [p.name for p in first.parent.iterdir() if p != first], "temp file left behind"


def test_gzip_holds_the_same_csv(tmp_path) -> None:
    images, labels, usage = generate_faces(100, seed=2)
    write_fer_csv(tmp_path / "x.csv", images, labels, usage)
    write_fer_csv(tmp_path / "x.csv.gz", images, labels, usage)
    raw = (tmp_path / "x.csv.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip magic, mtime 0
    assert gzip.decompress(raw) == (tmp_path / "x.csv").read_bytes()


CV_CPU_AVX2 = 11  # OpenCV's CpuFeatures enum value; cv2 does not export the name
_HASH_FACES = (
    "import cv2, hashlib; from facial_emotion.data.synthetic import generate_faces; "
    f"print(cv2.checkHardwareSupport({CV_CPU_AVX2}), "
    "hashlib.sha256(generate_faces(350, seed=3)[0].tobytes()).hexdigest())"
)


@pytest.mark.skipif(not cv2.checkHardwareSupport(CV_CPU_AVX2),
                    reason="this CPU has no AVX2: no other code path to compare")
def test_same_seed_gives_the_same_faces_without_avx2(faces) -> None:
    """OpenCV picks SIMD code by CPU; the faces must not depend on it (they did: the float blur rounded differently)."""
    env = {**os.environ, "OPENCV_CPU_DISABLE": "AVX2"}
    out = subprocess.run([sys.executable, "-c", _HASH_FACES], env=env, capture_output=True, text=True, check=True)
    avx2_on, digest = out.stdout.split()
    assert avx2_on == "False", "OPENCV_CPU_DISABLE did not switch AVX2 off"
    assert digest == hashlib.sha256(faces[0].tobytes()).hexdigest()


def test_same_seed_same_arrays_and_different_seed_different_data(faces) -> None:
    images, labels, usage = faces
    again = generate_faces(350, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(faces, again))
    other_images, other_labels, other_usage = generate_faces(350, seed=4)
    assert np.array_equal(other_usage, usage)  # the allocation depends only on n_rows
    assert not np.array_equal(other_images, images)
    assert not np.array_equal(other_labels, labels)  # same counts, different shuffle


@pytest.mark.parametrize("n_rows", [1500, 3000, 10_000, 35_887])
def test_allocation_is_largest_remainder_of_fer_proportions(n_rows: int) -> None:
    counts = allocate_counts(n_rows)
    total_fer = sum(FER2013_USAGE_COUNTS.values())
    assert sum(int(c.sum()) for c in counts.values()) == n_rows
    for usage in USAGES:
        usage_total = int(counts[usage].sum())
        assert abs(usage_total - n_rows * FER2013_USAGE_COUNTS[usage] / total_fer) < 1
        expected = usage_total * np.array(FER2013_CLASS_COUNTS) / sum(FER2013_CLASS_COUNTS)
        assert np.all(np.abs(counts[usage] - expected) < 1), (usage, counts[usage], expected)
    if n_rows == total_fer:
        assert {u: int(c.sum()) for u, c in counts.items()} == FER2013_USAGE_COUNTS


@pytest.mark.parametrize("n_rows", [70, 199, 200, 300, 700])
def test_small_datasets_keep_every_class_in_every_split(n_rows: int) -> None:
    counts = allocate_counts(n_rows)
    assert sum(int(c.sum()) for c in counts.values()) == n_rows
    floor = 2 if n_rows >= 200 else 1
    total_fer = sum(FER2013_USAGE_COUNTS.values())
    for usage in USAGES:
        assert counts[usage].min() >= floor
        assert counts[usage][DISGUST] == counts[usage].min()  # disgust stays the rarest
        expected = counts[usage].sum() * np.array(FER2013_CLASS_COUNTS) / sum(FER2013_CLASS_COUNTS)
        assert np.all(np.abs(counts[usage] - np.maximum(expected, floor)) < 2)
        assert abs(counts[usage].sum() - n_rows * FER2013_USAGE_COUNTS[usage] / total_fer) < 2


def test_too_few_rows_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 70"):
        generate_faces(69, seed=0)
    images, labels, usage = generate_faces(70, seed=0)
    assert len(images) == 70 and set(labels.tolist()) == set(range(NUM_CLASSES))


def test_rows_follow_the_allocation_in_fer_order(faces) -> None:
    images, labels, usage = faces
    assert images.dtype == np.uint8 and images.shape == (350, IMAGE_SIZE, IMAGE_SIZE)
    assert labels.dtype == np.int64 and labels.shape == (350,)
    assert usage.shape == (350,) and set(usage.tolist()) == set(USAGES)
    order = [USAGES.index(u) for u in usage.tolist()]
    assert order == sorted(order), "rows must be Training, then PublicTest, then PrivateTest"
    counts = allocate_counts(350)
    for split in USAGES:
        split_labels = labels[usage == split]
        assert np.array_equal(np.bincount(split_labels, minlength=NUM_CLASSES), counts[split])
        assert np.any(np.diff(split_labels) < 0), f"{split} rows look sorted by class"
    overall = np.bincount(labels, minlength=NUM_CLASSES)
    assert overall[DISGUST] < np.delete(overall, DISGUST).min()


def test_images_are_faces_not_blank(faces) -> None:
    images = faces[0]
    flat = images.reshape(len(images), -1).astype(np.float64)
    assert flat.std() > 10
    assert flat.std(axis=1).min() > 5, "an image is nearly blank"
    assert 60 < flat.mean() < 200
    assert len({img.tobytes() for img in images}) == len(images)


def test_csv_format_is_exact(tmp_path, faces) -> None:
    images, labels, usage = faces
    path = tmp_path / "fer2013.csv"
    write_fer_csv(path, images, labels, usage)
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n") and not raw.endswith(b"\n\n")
    lines = raw.decode("ascii").split("\n")[:-1]
    assert lines[0] == "emotion,pixels,Usage"
    assert len(lines) == len(images) + 1
    for i, line in enumerate(lines[1:]):
        fields = line.split(",")
        assert len(fields) == 3
        emotion, pixels, split = fields
        assert emotion == str(labels[i]) and split == usage[i]
        tokens = pixels.split(" ")
        assert len(tokens) == IMAGE_SIZE * IMAGE_SIZE
        assert all(PIXEL.fullmatch(t) for t in tokens), "pixels must be plain ints without leading zeros"
        assert np.array_equal(np.array(tokens, dtype=np.int64).reshape(IMAGE_SIZE, IMAGE_SIZE), images[i])


def test_write_rejects_malformed_input(tmp_path, faces) -> None:
    images, labels, usage = faces
    bad_usage = usage.copy()
    bad_usage[0] = "Validation"
    with pytest.raises(ValueError, match="usage"):
        write_fer_csv(tmp_path / "x.csv", images, labels, bad_usage)
    with pytest.raises(ValueError, match="labels"):
        write_fer_csv(tmp_path / "x.csv", images, labels + 7, usage)
    with pytest.raises(ValueError, match="shape"):
        write_fer_csv(tmp_path / "x.csv", images[:, :40], labels, usage)
    assert not (tmp_path / "x.csv").exists()


def test_classes_are_learnable_but_overlap() -> None:
    """A linear model on raw pixels beats chance (14%) clearly but is far from perfect."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    images, labels, usage = generate_faces(1900, seed=7)
    x = images.reshape(len(images), -1) / 255.0
    train = usage == "Training"
    with threadpool_limits(1), warnings.catch_warnings():  # one BLAS thread: far faster on a busy box
        warnings.simplefilter("ignore")  # lbfgs may stop at max_iter; that is fine here
        model = LogisticRegression(max_iter=300).fit(x[train], labels[train])
    accuracy = model.score(x[~train], labels[~train])
    assert 0.3 < accuracy < 0.98, accuracy
