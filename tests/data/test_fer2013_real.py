"""The real FER2013 parses to its published counts, and both splits give the documented sizes.

Needs the verified copy at ../shared/data/fer2013/fer2013.csv.gz (or FER2013_PATH); skipped otherwise.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import tarfile

import numpy as np
import pytest
from isal import igzip

from facial_emotion.data.dataset import FaceDataset
from facial_emotion.data.fer_csv import parse_fer_bytes, read_bytes, read_fer_csv
from facial_emotion.data.fer_csv_arrow import parse_clean
from facial_emotion.data.ingest import ingest
from facial_emotion.data.splits import challenge_split, official_split, study1_split
from facial_emotion.labels import IMAGE_SIZE, NUM_CLASSES

pytestmark = pytest.mark.data

CLASS_COUNTS = [4953, 547, 5121, 8989, 6077, 4002, 6198]
USAGE_COUNTS = {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
SEED_VAL_COUNTS = [991, 109, 1024, 1798, 1216, 800, 1240]
SEED_TRAIN_COUNTS = [3962, 438, 4097, 7191, 4861, 3202, 4958]


@pytest.fixture(scope="module")
def fer2013(fer2013_path) -> tuple[FaceDataset, str]:
    """Parsed once per module (about 10 s)."""
    return read_fer_csv(fer2013_path)


def test_row_count_and_schema(fer2013) -> None:
    ds, sha = fer2013
    assert len(ds) == 35887
    assert ds.images.shape == (35887, IMAGE_SIZE, IMAGE_SIZE) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64 and ds.labels.min() == 0 and ds.labels.max() == NUM_CLASSES - 1
    assert np.array_equal(ds.rows, np.arange(35887))
    assert not ds.rejected and ds.notes == []
    assert len(sha) == 64


def test_sha256_is_of_the_uncompressed_csv(fer2013) -> None:
    """../shared/data/fer2013/README.md gives both: the verified copy's and Kaggle's original's."""
    assert fer2013[1] in {"42e0a3d6b52806c8d334b4577fb0a2cc70ccee42662924ffd79912b6405ebf54",
                          "3b8d9617d1017f34733c8f2474d7784c563ce86c40a86ac12c2d37cc968f871b"}


def test_the_real_file_takes_the_fast_path_and_both_parsers_agree(fer2013, fer2013_path) -> None:
    raw = read_bytes(fer2013_path)
    fast = parse_clean(raw)
    assert fast is not None, "the Arrow fast path refused the real FER2013"
    exact = parse_fer_bytes(raw, str(fer2013_path), fast=False)
    for field in ("images", "labels", "usage", "rows"):
        assert np.array_equal(getattr(fast, field), getattr(exact, field)), field
    assert np.array_equal(fer2013[0].images, fast.images)


def test_usage_counts(fer2013) -> None:
    ds, _ = fer2013
    assert {usage: int((ds.usage == usage).sum()) for usage in USAGE_COUNTS} == USAGE_COUNTS
    order = np.unique(ds.usage, return_index=True)
    first = dict(zip(order[0].tolist(), order[1].tolist()))
    assert first == {"Training": 0, "PublicTest": 28709, "PrivateTest": 28709 + 3589}


def test_class_counts(fer2013) -> None:
    ds, _ = fer2013
    assert np.bincount(ds.labels, minlength=NUM_CLASSES).tolist() == CLASS_COUNTS


def test_pixels_span_the_full_range(fer2013) -> None:
    ds, _ = fer2013
    assert ds.images.min() == 0 and ds.images.max() == 255
    assert 120 < ds.images.mean() < 135  # FER2013's mean pixel is about 129


def test_study1_split_counts(fer2013) -> None:
    ds, _ = fer2013
    split = study1_split(ds, 0.2, 42)
    assert np.bincount(ds.labels[split.val], minlength=NUM_CLASSES).tolist() == SEED_VAL_COUNTS
    assert np.bincount(ds.labels[split.train], minlength=NUM_CLASSES).tolist() == SEED_TRAIN_COUNTS
    assert len(split.val) == 7178 and len(split.train) == 28709


def test_official_split_counts(fer2013) -> None:
    ds, _ = fer2013
    split = official_split(ds, 0.1, 42)
    assert len(split.test) == 7178
    assert int((ds.usage[split.test] == "PrivateTest").sum()) == 3589
    assert int((ds.usage[split.test] == "PublicTest").sum()) == 3589
    assert len(split.train) + len(split.val) == 28709
    assert not set(split.val.tolist()) & set(split.train.tolist())


def test_challenge_split_counts(fer2013) -> None:
    ds, _ = fer2013
    split = challenge_split(ds)
    assert (len(split.train), len(split.val), len(split.test)) == (28709, 3589, 3589)


def build_kaggle_tarball(csv_gz, tarball) -> None:
    """fer2013.tar.gz as Kaggle served it (fer2013/fer2013.csv beside a README), streamed, never committed."""
    with open(csv_gz, "rb") as fh:
        fh.seek(-4, 2)
        size = struct.unpack("<I", fh.read(4))[0]  # gzip's ISIZE: the CSV's size (it is under 4 GiB)
    with igzip.open(tarball, "wb", compresslevel=0) as out, tarfile.open(fileobj=out, mode="w|") as tar:
        info = tarfile.TarInfo("fer2013/fer2013.csv")
        info.size = size
        with gzip.open(csv_gz, "rb") as csv:
            tar.addfile(info, csv)
        tar.addfile(tarfile.TarInfo("fer2013/README"))


def test_kaggle_tarball_in_data_raw_gives_the_same_rows_as_the_csv_gz(fer2013, fer2013_path, tmp_path) -> None:
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    tarball = raw / "fer2013.tar.gz"
    build_kaggle_tarball(fer2013_path, tarball)
    result = ingest(raw, "auto", "error", 10, 0)
    ds, plain = result.dataset, fer2013[0]
    assert result.source == "csv" and result.input_path == f"{tarball}:fer2013/fer2013.csv"
    assert result.sha256 == hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert len(ds) == 35887 and not ds.rejected
    assert {usage: int((ds.usage == usage).sum()) for usage in USAGE_COUNTS} == USAGE_COUNTS
    assert np.bincount(ds.labels, minlength=NUM_CLASSES).tolist() == CLASS_COUNTS
    assert np.array_equal(ds.usage, plain.usage) and np.array_equal(ds.labels, plain.labels)
    assert np.array_equal(ds.images, plain.images)
