"""The Arrow fast path gives exactly what the exact parser gives, and steps aside on anything irregular."""

from __future__ import annotations

import gzip
import hashlib
import threading

import numpy as np
import pytest

from facial_emotion.data.dataset import IngestError
from facial_emotion.data.fer_csv import parse_fer_bytes, read_fer_csv
from facial_emotion.data.fer_csv_arrow import _small_ints, parse_clean, read_clean_file
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
    "empty emotion and first pixel": b",," + SEVEN[2:] + b",Training",
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


# --- streaming a file: inflate and hash in a background thread while Arrow parses ---------------


def test_a_clean_file_streams_to_the_same_dataset_and_hash(tmp_path, synthetic_csv) -> None:
    exact = parse_fer_bytes(synthetic_csv, "x.csv", fast=False)
    for name, content in (("fer2013.csv", synthetic_csv), ("fer2013.csv.gz", gzip.compress(synthetic_csv))):
        path = tmp_path / name
        path.write_bytes(content)
        result = read_clean_file(path)
        assert result is not None, name
        dataset, sha = result
        assert_same(dataset, exact)
        assert sha == hashlib.sha256(synthetic_csv).hexdigest()


def test_a_multi_member_gzip_streams_whole(tmp_path, synthetic_csv) -> None:
    cut = synthetic_csv.index(b"\n", len(synthetic_csv) // 2) + 1
    path = tmp_path / "fer2013.csv.gz"
    path.write_bytes(gzip.compress(synthetic_csv[:cut]) + gzip.compress(synthetic_csv[cut:]))
    dataset, sha = read_clean_file(path)
    assert len(dataset) == 300 and sha == hashlib.sha256(synthetic_csv).hexdigest()


@pytest.mark.parametrize("damage", ["truncated", "crlf", "hex", "bom"])
def test_a_damaged_or_irregular_file_stops_the_stream_and_leaves_no_thread(tmp_path, synthetic_csv, damage) -> None:
    content = {
        "truncated": gzip.compress(synthetic_csv)[:5000],
        "crlf": gzip.compress(synthetic_csv.replace(b"\n", b"\r\n")),
        "hex": gzip.compress(with_row(synthetic_csv, 290, IRREGULAR["hex pixel"])),
        "bom": gzip.compress(b"\xef\xbb\xbf" + synthetic_csv),
    }[damage]
    path = tmp_path / "fer2013.csv.gz"
    path.write_bytes(content)
    threads = threading.active_count()
    assert read_clean_file(path) is None
    assert threading.active_count() == threads
    if damage == "truncated":
        with pytest.raises(IngestError, match="not a complete gzip file"):
            read_fer_csv(path)
    else:  # the exact parser reads it, with a note where it normalised something
        dataset, sha = read_fer_csv(path, on_bad_row="skip")
        assert len(dataset) == (299 if damage == "hex" else 300)
        assert sha == hashlib.sha256(gzip.decompress(content)).hexdigest()


@pytest.mark.parametrize("text, expected", [(b"0", 0), (b"9", 9), (b"255", 255), (b"07", 7), (b"256", None),
                                            (b"0007", None), (b"", None), (b"a", None), (b"1a", None), (b"-1", None)])
def test_end_pixels_parse_strictly(text, expected) -> None:
    data = np.frombuffer(b"#" + text + b"#", dtype=np.uint8)
    values = _small_ints(data, np.array([1]), np.array([1 + len(text)]))
    assert (values is None) if expected is None else (values.tolist() == [expected])
