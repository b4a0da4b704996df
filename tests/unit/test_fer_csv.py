"""The FER2013 CSV parser: exact values on good input, one-line errors naming file, line and field on bad."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from facial_emotion.data.dataset import IngestError
from facial_emotion.data.fer_csv import parse_fer_bytes, read_fer_csv
from facial_emotion.data.synthetic import write_fer_csv
from facial_emotion.errors import PipelineError
from facial_emotion.labels import IMAGE_SIZE, USAGES

NAME = "faces.csv"
HEADER = b"emotion,pixels,Usage"
N_ROWS = 6
BAD = 3  # data row index of the corrupted row in the error tests: line 5 (the header is line 1)
BAD_LINE = BAD + 2


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few random faces covering every label value range and all three usages."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(N_ROWS, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    images[0, 0, :3] = (0, 255, 9)  # the extremes and a one-digit value, at known places
    labels = np.array([0, 6, 3, 1, 5, 2], dtype=np.int64)
    usage = np.array(["Training", "Training", "PublicTest", "Training", "PrivateTest", "PublicTest"])
    return images, labels, usage


@pytest.fixture(scope="module")
def csv_bytes(faces, tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("csv") / "fer2013.csv"
    write_fer_csv(path, *faces)
    return path.read_bytes()


def with_line(raw: bytes, data_row: int, line: bytes) -> bytes:
    """`raw` with data row `data_row` (0-based, after the header) replaced by `line`."""
    lines = raw.split(b"\n")
    lines[data_row + 1] = line
    return b"\n".join(lines)


def pixels_text(values) -> bytes:
    return " ".join(str(v) for v in values).encode()


def row(emotion: bytes = b"0", pixels: bytes | None = None, usage: bytes = b"Training") -> bytes:
    return b",".join([emotion, pixels if pixels is not None else pixels_text([7] * 2304), usage])


def assert_one_line_error(raw: bytes, *expected: str, name: str = NAME) -> str:
    with pytest.raises(IngestError) as info:
        parse_fer_bytes(raw, name)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(name), message
    for part in expected:
        assert part in message, (part, message)
    return message


def assert_row_error(raw: bytes, field: str, *expected: str) -> str:
    return assert_one_line_error(raw, f"{NAME} line {BAD_LINE}:", field, *expected)


# --- good input ---------------------------------------------------------------------------------


def test_valid_file_gives_exact_values_shapes_and_dtypes(faces, csv_bytes) -> None:
    images, labels, usage = faces
    ds = parse_fer_bytes(csv_bytes, NAME)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (N_ROWS, IMAGE_SIZE, IMAGE_SIZE)
    assert ds.labels.dtype == np.int64 and ds.rows.dtype == np.int64
    assert np.array_equal(ds.images, images)
    assert np.array_equal(ds.labels, labels)
    assert ds.usage.tolist() == usage.tolist()
    assert np.array_equal(ds.rows, np.arange(N_ROWS))
    assert ds.images[0, 0, :3].tolist() == [0, 255, 9]
    assert not ds.rejected and ds.notes == []


def test_read_fer_csv_returns_sha256_of_the_content(tmp_path, faces, csv_bytes) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_bytes(csv_bytes)
    ds, sha = read_fer_csv(path)
    assert sha == hashlib.sha256(csv_bytes).hexdigest()
    assert np.array_equal(ds.images, faces[0])


def test_csv_gz_gives_the_same_dataset_and_hash_as_csv(tmp_path, faces) -> None:
    write_fer_csv(tmp_path / "fer2013.csv", *faces)
    write_fer_csv(tmp_path / "fer2013.csv.gz", *faces)
    plain, plain_sha = read_fer_csv(tmp_path / "fer2013.csv")
    packed, packed_sha = read_fer_csv(tmp_path / "fer2013.csv.gz")
    assert plain_sha == packed_sha
    for field in ("images", "labels", "usage", "rows"):
        assert np.array_equal(getattr(plain, field), getattr(packed, field)), field


def test_crlf_line_endings_read_like_lf(csv_bytes) -> None:
    lf = parse_fer_bytes(csv_bytes, NAME)
    crlf = parse_fer_bytes(csv_bytes.replace(b"\n", b"\r\n"), NAME)
    for field in ("images", "labels", "usage", "rows"):
        assert np.array_equal(getattr(lf, field), getattr(crlf, field)), field
    assert any("CRLF" in note for note in crlf.notes)


def test_utf8_byte_order_mark_is_accepted(csv_bytes) -> None:
    ds = parse_fer_bytes(b"\xef\xbb\xbf" + csv_bytes, NAME)
    assert np.array_equal(ds.images, parse_fer_bytes(csv_bytes, NAME).images)
    assert any("byte-order mark" in note for note in ds.notes)


def test_quoted_pixels_field_is_accepted(faces, csv_bytes) -> None:
    lines = csv_bytes.split(b"\n")
    for i in range(1, N_ROWS + 1):
        emotion, pixels, usage = lines[i].split(b",")
        lines[i] = b",".join([emotion, b'"' + pixels + b'"', usage])
    ds = parse_fer_bytes(b"\n".join(lines), NAME)
    assert np.array_equal(ds.images, faces[0])
    assert np.array_equal(ds.labels, faces[1])


def test_missing_final_newline_and_leading_zeros_are_accepted(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(b"4", pixels_text(["007", "0000000000255"] + [1] * 2302), b"PrivateTest"))
    ds = parse_fer_bytes(raw.rstrip(b"\n"), NAME)
    assert ds.images[BAD].ravel()[:3].tolist() == [7, 255, 1]
    assert ds.labels[BAD] == 4 and ds.usage[BAD] == "PrivateTest"


def test_blank_lines_are_ignored_and_line_numbers_stay_true(csv_bytes) -> None:
    lines = csv_bytes.split(b"\n")
    lines.insert(2, b"")  # a blank line 3
    lines[BAD + 2] = row(b"9")  # data row BAD now sits on line BAD_LINE + 1
    with pytest.raises(IngestError, match=f"line {BAD_LINE + 1}: field 'emotion'"):
        parse_fer_bytes(b"\n".join(lines), NAME)


# --- bad files ------------------------------------------------------------------------------------


def test_ingest_error_is_a_pipeline_error() -> None:
    assert issubclass(IngestError, PipelineError)
    with pytest.raises(PipelineError):
        parse_fer_bytes(b"", NAME)


def test_empty_file() -> None:
    assert_one_line_error(b"", "empty")


def test_whitespace_only_file_is_empty() -> None:
    assert_one_line_error(b"\n\r\n  \n", "empty")


def test_header_without_rows() -> None:
    assert_one_line_error(HEADER + b"\n", "no data rows")


def test_wrong_header(csv_bytes) -> None:
    raw = csv_bytes.replace(HEADER, b"label,pixels,Usage", 1)
    assert_one_line_error(raw, f"{NAME} line 1:", "header", "label,pixels,Usage")


def test_missing_header_file_starts_with_a_data_row(csv_bytes) -> None:
    raw = csv_bytes.split(b"\n", 1)[1]
    assert_one_line_error(raw, f"{NAME} line 1:", "header", "emotion,pixels,Usage")


def test_truncated_gz_is_a_one_line_error_naming_the_file(tmp_path, faces) -> None:
    path = tmp_path / "fer2013.csv.gz"
    write_fer_csv(path, *faces)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IngestError) as info:
        read_fer_csv(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "gzip" in message


def test_missing_file_names_the_file(tmp_path) -> None:
    with pytest.raises(IngestError, match="fer2013.csv: file not found"):
        read_fer_csv(tmp_path / "fer2013.csv")


def test_unknown_on_bad_row_mode(csv_bytes) -> None:
    with pytest.raises(IngestError, match="on_bad_row"):
        parse_fer_bytes(csv_bytes, NAME, "ignore")


# --- bad rows: one test per kind ------------------------------------------------------------------


def test_2303_pixels(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(pixels=pixels_text([7] * 2303)))
    assert_row_error(raw, "field 'pixels'", "2304", "found 2303")


def test_2305_pixels(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(pixels=pixels_text([7] * 2305)))
    assert_row_error(raw, "field 'pixels'", "2304", "found 2305")


def test_empty_pixels_field(csv_bytes) -> None:
    assert_row_error(with_line(csv_bytes, BAD, row(pixels=b"")), "field 'pixels'", "found 0")


def test_pixel_with_letters(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(pixels=pixels_text([7] * 10 + ["12a"] + [7] * 2293)))
    assert_row_error(raw, "field 'pixels'", "value 11", "'12a'", "not an integer")


def test_pixel_with_decimal_point(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(pixels=pixels_text(["1.5"] + [7] * 2303)))
    assert_row_error(raw, "field 'pixels'", "value 1", "'1.5'", "not an integer")


def test_pixel_256(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(pixels=pixels_text([7] * 2303 + [256])))
    assert_row_error(raw, "field 'pixels'", "value 2304", "256", "above 255")


def test_pixel_minus_one(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(pixels=pixels_text([7] * 5 + [-1] + [7] * 2298)))
    assert_row_error(raw, "field 'pixels'", "value 6", "'-1'", "not an integer")


def test_pixel_far_too_large_is_an_error_not_an_overflow(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(pixels=pixels_text([99999] + [7] * 2303)))
    assert_row_error(raw, "field 'pixels'", "value 1", "99999", "above 255")
    raw = with_line(csv_bytes, BAD, row(pixels=pixels_text(["9" * 5000] + [7] * 2303)))
    assert_row_error(raw, "field 'pixels'", "value 1", "above 255")


def test_emotion_7(csv_bytes) -> None:
    assert_row_error(with_line(csv_bytes, BAD, row(emotion=b"7")), "field 'emotion'", "0-6", "'7'")


def test_emotion_not_an_integer(csv_bytes) -> None:
    assert_row_error(with_line(csv_bytes, BAD, row(emotion=b"happy")), "field 'emotion'", "'happy'")


def test_emotion_two_digits(csv_bytes) -> None:
    assert_row_error(with_line(csv_bytes, BAD, row(emotion=b"10")), "field 'emotion'", "'10'")


def test_emotion_empty(csv_bytes) -> None:
    assert_row_error(with_line(csv_bytes, BAD, row(emotion=b"")), "field 'emotion'", "''")


def test_unknown_usage(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row(usage=b"Validation"))
    assert_row_error(raw, "field 'Usage'", "'Validation'", *USAGES)


def test_usage_with_wrong_case(csv_bytes) -> None:
    assert_row_error(with_line(csv_bytes, BAD, row(usage=b"training")), "field 'Usage'", "'training'")


def test_too_many_fields(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, row() + b",extra")
    assert_row_error(raw, "3 fields (emotion,pixels,Usage)", "found 4")


def test_too_few_fields(csv_bytes) -> None:
    raw = with_line(csv_bytes, BAD, b"0," + pixels_text([7] * 2304))
    assert_row_error(raw, "3 fields (emotion,pixels,Usage)", "found 2")


def test_the_first_bad_row_is_the_one_reported(csv_bytes) -> None:
    raw = with_line(with_line(csv_bytes, BAD, row(emotion=b"8")), BAD + 1, row(emotion=b"9"))
    assert_row_error(raw, "field 'emotion'", "'8'")


# --- skip mode ------------------------------------------------------------------------------------


def test_skip_mode_drops_bad_rows_counts_them_by_reason_and_keeps_good_rows_in_order(faces, csv_bytes) -> None:
    images, labels, usage = faces
    bad_rows = {
        1: row(pixels=pixels_text([7] * 2303)),
        2: row(emotion=b"7"),
        4: row(usage=b"Validation"),
    }
    raw = csv_bytes
    for index, line in bad_rows.items():
        raw = with_line(raw, index, line)
    extra = [
        row(pixels=pixels_text(["12a"] + [7] * 2303)),
        row(pixels=pixels_text([256] + [7] * 2303)),
        row() + b",extra",
        row(pixels=pixels_text([7] * 2305)),
    ]
    raw = raw.rstrip(b"\n") + b"\n" + b"\n".join(extra) + b"\n"
    ds = parse_fer_bytes(raw, NAME, "skip")
    kept = [i for i in range(N_ROWS) if i not in bad_rows]
    assert np.array_equal(ds.rows, kept)
    assert np.array_equal(ds.images, images[kept])
    assert np.array_equal(ds.labels, labels[kept])
    assert ds.usage.tolist() == usage[kept].tolist()
    assert dict(ds.rejected) == {
        "pixel_count": 2,
        "emotion": 1,
        "usage": 1,
        "pixel_not_integer": 1,
        "pixel_out_of_range": 1,
        "field_count": 1,
    }


def test_skip_mode_with_every_row_bad_is_still_an_error(csv_bytes) -> None:
    raw = HEADER + b"\n" + row(emotion=b"7") + b"\n"
    with pytest.raises(IngestError, match=f"{NAME}: every data row was rejected"):
        parse_fer_bytes(raw, NAME, "skip")


def test_skip_mode_on_a_clean_file_rejects_nothing(faces, csv_bytes) -> None:
    ds = parse_fer_bytes(csv_bytes, NAME, "skip")
    assert not ds.rejected and np.array_equal(ds.images, faces[0])


def test_gzip_of_bad_rows_reports_the_gz_path(tmp_path, csv_bytes) -> None:
    path = tmp_path / "fer2013.csv.gz"
    path.write_bytes(gzip.compress(with_line(csv_bytes, BAD, row(emotion=b"7"))))
    with pytest.raises(IngestError, match=f"^{path} line {BAD_LINE}: field 'emotion'"):
        read_fer_csv(path)
