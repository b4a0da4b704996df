"""The Arrow fast path gives exactly what the exact parser gives, and steps aside on anything irregular."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from facial_emotion.data.dataset import IngestError
from facial_emotion.data.fer_csv import parse_fer_bytes, read_fer_csv
from facial_emotion.data.fer_csv_arrow import parse_clean
from facial_emotion.data.synthetic import generate_faces, write_fer_csv

FIELDS = ("images", "labels", "usage", "rows")
SEVEN = " ".join(["7"] * 2304).encode()


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("fast") / "fer2013.csv"
    write_fer_csv(path, *generate_faces(300, seed=3))
    return path.read_bytes()


def assert_same(a, b) -> None:
    for field in FIELDS:
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert dict(a.rejected) == dict(b.rejected) and a.notes == b.notes


def with_row(raw: bytes, index: int, line: bytes) -> bytes:
    lines = raw.split(b"\n")
    lines[index + 1] = line
    return b"\n".join(lines)


def test_a_clean_file_takes_the_fast_path_and_matches_the_exact_parser(synthetic_csv) -> None:
    fast = parse_clean(synthetic_csv)
    assert fast is not None, "a clean file must not fall back to the slow parser"
    exact = parse_fer_bytes(synthetic_csv, "fer2013.csv", fast=False)
    assert_same(fast, exact)
    assert fast.images.dtype == np.uint8 and fast.labels.dtype == np.int64 and fast.rows.dtype == np.int64
    assert fast.images.flags.c_contiguous
    assert set(fast.usage) == {"Training", "PublicTest", "PrivateTest"}


def test_leading_zeros_and_extremes_match(synthetic_csv) -> None:
    pixels = b" ".join([b"000", b"0255", b"9"] + [b"128"] * 2301)
    raw = with_row(synthetic_csv, 5, b"6," + pixels + b",PrivateTest")
    fast = parse_clean(raw)
    assert fast is not None
    assert fast.images[5].ravel()[:4].tolist() == [0, 255, 9, 128]
    assert_same(fast, parse_fer_bytes(raw, "x.csv", fast=False))


IRREGULAR = {
    "2303 pixels": b"0," + b" ".join([b"7"] * 2303) + b",Training",
    "2305 pixels": b"0," + b" ".join([b"7"] * 2305) + b",Training",
    "pixel 256": b"0,256 " + SEVEN[2:] + b",Training",
    "pixel -1": b"0,-1 " + SEVEN[2:] + b",Training",
    "hex pixel": b"0,0x1f " + SEVEN[2:] + b",Training",
    "pixel with a letter": b"0,12a " + SEVEN[2:] + b",Training",
    "double space": b"0,7  " + SEVEN[2:] + b",Training",
    "leading space": b"0, " + SEVEN + b",Training",
    "emotion 7": b"7," + SEVEN + b",Training",
    "emotion 06": b"06," + SEVEN + b",Training",
    "empty emotion": b"," + SEVEN + b",Training",
    "unknown usage": b"0," + SEVEN + b",Validation",
    "usage in lower case": b"0," + SEVEN + b",training",
    "a fourth field": b"0," + SEVEN + b",Training,x",
    "no usage": b"0," + SEVEN,
    "a blank line": b"",
}


@pytest.mark.parametrize("case", IRREGULAR)
def test_anything_irregular_falls_back_to_the_exact_parser(synthetic_csv, case) -> None:
    raw = with_row(synthetic_csv, 7, IRREGULAR[case])
    assert parse_clean(raw) is None
    # and the public entry point then behaves exactly like the exact parser
    try:
        expected = parse_fer_bytes(raw, "x.csv", "skip", fast=False)
    except IngestError as exc:
        with pytest.raises(IngestError, match=str(exc).split(":")[0]):
            parse_fer_bytes(raw, "x.csv", "skip")
    else:
        assert_same(parse_fer_bytes(raw, "x.csv", "skip"), expected)


def test_a_hex_pixel_is_an_error_naming_line_and_field(synthetic_csv) -> None:
    raw = with_row(synthetic_csv, 7, IRREGULAR["hex pixel"])
    with pytest.raises(IngestError, match=r"^x.csv line 9: field 'pixels': value 1 is '0x1f'"):
        parse_fer_bytes(raw, "x.csv")


def test_header_only_or_other_header_is_not_the_fast_paths_business(synthetic_csv) -> None:
    assert parse_clean(b"emotion,pixels,Usage\n") is None
    assert parse_clean(synthetic_csv.replace(b"Usage", b"usage", 1)) is None


def test_a_corrupt_gzip_is_a_one_line_error(tmp_path, synthetic_csv) -> None:
    packed = bytearray(gzip.compress(synthetic_csv))
    packed[40:60] = b"\xff" * 20
    path = tmp_path / "fer2013.csv.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(IngestError, match=f"^{path}: not a complete gzip file"):
        read_fer_csv(path)
