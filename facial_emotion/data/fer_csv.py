"""Vectorised reader for FER2013's CSV (`emotion,pixels,Usage`), plain or gzipped.

The study's per-row `str.split` takes tens of seconds and gigabytes. Here a clean file goes
through Apache Arrow's C++ CSV reader (fer_csv_arrow); any file it does not vouch for is read by
the exact parser below, where the whole file is one byte array and every check and the integer
parsing are numpy operations over blocks of rows. Bad rows raise an IngestError naming the line
and field, or are skipped and counted by reason.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..labels import IMAGE_SIZE, NUM_CLASSES, USAGES
from .dataset import FaceDataset, IngestError
from .fer_csv_arrow import HEADER, PIXELS, parse_clean, read_clean_file
from .fer_csv_arrow import usage_codes as _usage_codes
from .sniff import HEAD_BYTES, gzip_problem

_BLOCK_ROWS = 2048
_SPACE, _COMMA, _NEWLINE, _ZERO, _NINE = 32, 44, 10, 48, 57

REASONS = {
    "field_count": "expected 3 fields",
    "emotion": "emotion must be an integer 0-6",
    "usage": "Usage must be one of Training, PublicTest, PrivateTest",
    "pixel_count": f"expected {PIXELS} integers",
    "pixel_not_integer": "pixels must be integers 0-255",
    "pixel_out_of_range": "pixels must be integers 0-255",
}


def read_bytes(path: Path) -> bytes:
    """The CSV's bytes, decompressing .gz; a truncated or corrupt archive is a one-line error."""
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    raw = path.read_bytes()
    return gunzip_or_error(raw, str(path)) if path.suffix.lower() == ".gz" else raw


def gunzip_or_error(data: bytes, name: str) -> bytes:
    """Inflated gzip bytes; plain text named .gz or a truncated archive is a one-line error saying which."""
    problem = gzip_problem(name, data[:HEAD_BYTES])
    if problem:
        raise IngestError(f"{name}: {problem}")
    try:
        return _gunzip(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise IngestError(f"{name}: not a complete gzip file ({exc}); download it again") from None


def _gunzip(data: bytes) -> bytes:
    """python-isal's igzip inflates 3-5x faster than zlib (FER2013: about 0.5 s instead of 2 s)."""
    try:
        from isal import igzip, isal_zlib
    except ImportError:  # a platform without an isal wheel: the standard library, slower
        return gzip.decompress(data)
    try:
        return igzip.decompress(data)
    except isal_zlib.error as exc:  # zlib's counterpart is an OSError; isal's is not
        raise OSError(str(exc)) from None


def read_fer_csv(path: str | Path, on_bad_row: str = "error", fast: bool = True) -> tuple[FaceDataset, str]:
    """Parse a FER2013 CSV; returns the dataset and the sha256 of the (uncompressed) content.

    A clean file streams through the Arrow fast path; anything else is read whole and parsed by
    the exact parser, with the hash in a second thread (hashlib releases the GIL)."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if on_bad_row not in ("error", "skip"):
        raise IngestError(f"ingest.on_bad_row must be 'error' or 'skip', not {on_bad_row!r}")
    clean = read_clean_file(path) if fast else None
    if clean is not None:
        return clean
    raw = read_bytes(path)
    with ThreadPoolExecutor(max_workers=1) as pool:
        sha256 = pool.submit(lambda: hashlib.sha256(raw).hexdigest())
        dataset = parse_fer_bytes(raw, str(path), on_bad_row, fast=False)
        return dataset, sha256.result()


def plain_lines(raw: bytes) -> tuple[bytes, list[str]]:
    """Without a UTF-8 byte-order mark and with LF line endings, and notes saying what was changed."""
    notes: list[str] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        notes.append("the file starts with a UTF-8 byte-order mark (ignored)")
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        notes.append("Windows (CRLF) line endings (read as LF)")
    return raw, notes


def parse_fer_bytes(raw: bytes, name: str = "fer2013.csv", on_bad_row: str = "error", fast: bool = True) -> FaceDataset:
    """Parse CSV bytes. `name` is used in messages; `on_bad_row` is 'error' or 'skip'.

    `fast`: try the Arrow path first (falls back to the exact parser on anything irregular);
    False runs the exact parser alone (tests compare the two)."""
    if on_bad_row not in ("error", "skip"):
        raise IngestError(f"ingest.on_bad_row must be 'error' or 'skip', not {on_bad_row!r}")
    raw, notes = plain_lines(raw)
    if b'"' in raw:
        raw = raw.replace(b'"', b"")  # some exports quote the pixels field; no field holds a quote
    if not raw or raw.isspace():
        raise IngestError(f"{name}: the file is empty")
    if not raw.endswith(b"\n"):
        raw += b"\n"
    clean = parse_clean(raw) if fast else None
    if clean is not None:
        clean.notes = notes
        return clean

    buf = np.frombuffer(raw, dtype=np.uint8)
    line_ends = np.flatnonzero(buf == _NEWLINE)
    line_starts = np.concatenate(([0], line_ends[:-1] + 1))
    header = raw[: line_ends[0]].strip()
    if header != HEADER:
        shown = header[:60].decode("ascii", "replace")
        raise IngestError(f"{name} line 1: header must be 'emotion,pixels,Usage', found '{shown}'")

    line_starts, line_ends = line_starts[1:], line_ends[1:]
    line_numbers = np.arange(2, len(line_ends) + 2)
    non_blank = line_ends > line_starts
    line_starts, line_ends, line_numbers = line_starts[non_blank], line_ends[non_blank], line_numbers[non_blank]
    if len(line_starts) == 0:
        raise IngestError(f"{name}: the header is there but no data rows follow")

    rejected: Counter = Counter()
    bad = np.zeros(len(line_starts), dtype=bool)

    def reject(mask: np.ndarray, reason: str, detail=None) -> None:
        new = mask & ~bad
        if not new.any():
            return
        first = int(np.flatnonzero(new)[0])
        if on_bad_row == "error":
            what = detail(first) if detail else REASONS[reason]
            raise IngestError(f"{name} line {line_numbers[first]}: {what}")
        rejected[reason] += int(new.sum())
        bad[new] = True

    # Structure: exactly two commas per line.
    commas = np.flatnonzero(buf == _COMMA)
    commas = commas[commas >= line_starts[0]]  # the header's own commas
    line_of_comma = np.searchsorted(line_ends, commas)
    per_line = np.bincount(line_of_comma, minlength=len(line_ends) + 1)[: len(line_ends)]
    reject(per_line != 2, "field_count", lambda i: f"expected 3 fields (emotion,pixels,Usage), found {per_line[i] + 1}")
    first_comma_index = np.searchsorted(line_of_comma, np.arange(len(line_ends)))
    ok_rows = ~bad
    c1 = np.zeros(len(line_ends), dtype=np.int64)
    c2 = np.zeros(len(line_ends), dtype=np.int64)
    c1[ok_rows] = commas[first_comma_index[ok_rows]]
    c2[ok_rows] = commas[first_comma_index[ok_rows] + 1]

    # emotion: one digit 0-6.
    first_byte = buf[np.minimum(line_starts, len(buf) - 1)]
    emotion_ok = ((c1 - line_starts) == 1) & (first_byte >= _ZERO) & (first_byte < _ZERO + NUM_CLASSES)
    reject(~emotion_ok, "emotion",
           lambda i: f"field 'emotion': must be an integer 0-6, found '{_field(raw, line_starts[i], c1[i])}'")
    labels = first_byte.astype(np.int64) - _ZERO

    # Usage: compare a fixed-width window against the three names.
    usage_codes = _usage_codes(buf, c2 + 1, line_ends)
    reject(usage_codes < 0, "usage",
           lambda i: "field 'Usage': must be Training, PublicTest or PrivateTest, "
                     f"found '{_field(raw, c2[i] + 1, line_ends[i])}'")

    images = np.zeros((len(line_starts), PIXELS), dtype=np.uint8)
    for lo in range(0, len(line_starts), _BLOCK_ROWS):
        rows = np.arange(lo, min(lo + _BLOCK_ROWS, len(line_starts)))
        rows = rows[~bad[rows]]
        if len(rows) == 0:
            continue
        values, counts, bad_char, out_of_range = _parse_pixel_block(buf, c1[rows] + 1, c2[rows])
        block_bad = np.zeros(len(line_starts), dtype=bool)

        def detail(i: int) -> str:
            return _pixel_detail(raw, int(c1[i]) + 1, int(c2[i]))

        block_bad[rows] = bad_char
        reject(block_bad, "pixel_not_integer", detail)
        block_bad[:] = False
        block_bad[rows] = out_of_range & ~bad_char
        reject(block_bad, "pixel_out_of_range", detail)
        block_bad[:] = False
        block_bad[rows] = (counts != PIXELS) & ~bad_char & ~out_of_range
        reject(block_bad, "pixel_count", detail)
        good = ~(bad_char | out_of_range | (counts != PIXELS))
        if good.all():
            images[rows] = values.reshape(-1, PIXELS)
        else:
            ends = np.cumsum(counts)
            for r, end, count, keep in zip(rows, ends, counts, good):
                if keep:
                    images[r] = values[end - count : end]

    keep = ~bad
    if not keep.any():
        raise IngestError(f"{name}: every data row was rejected ({dict(rejected)})")
    usage = np.asarray(USAGES)[usage_codes[keep]]
    return FaceDataset(
        images=images[keep].reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
        labels=labels[keep],
        usage=usage,
        rows=(line_numbers[keep] - 2).astype(np.int64),
        rejected=rejected,
        notes=notes,
    )


def _field(raw: bytes, start: int, end: int) -> str:
    text = raw[start:end].decode("ascii", "replace")
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_pixel_block(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray):
    """Parse the pixel fields [start, end) of a block of rows in one go.

    Returns (values of all tokens in order, tokens per row, row has a non-digit character,
    row has a value above 255).
    """
    lo, hi = int(starts.min()), int(ends.max()) + 1
    marks = np.zeros(hi - lo + 1, dtype=np.int8)
    np.add.at(marks, starts - lo, 1)
    np.add.at(marks, ends - lo + 1, -1)
    inside = np.cumsum(marks[:-1], dtype=np.int8).astype(bool)
    stream = buf[lo:hi][inside]  # each field followed by its closing comma
    field_starts = np.cumsum(np.concatenate(([0], (ends - starts + 1)[:-1])))
    stream[field_starts[1:] - 1] = _SPACE
    stream[-1] = _SPACE

    is_digit = (stream >= _ZERO) & (stream <= _NINE)
    other = ~is_digit & (stream != _SPACE)
    prev_digit = np.concatenate(([False], is_digit[:-1]))
    next_digit = np.concatenate((is_digit[1:], [False]))
    token_start = np.flatnonzero(is_digit & ~prev_digit)
    token_end = np.flatnonzero(is_digit & ~next_digit)
    length = token_end - token_start + 1
    digits = stream.astype(np.int16) - _ZERO
    values = digits[token_end].copy()
    two = length >= 2
    values[two] += 10 * digits[token_end[two] - 1]
    three = length >= 3
    values[three] += 100 * digits[token_end[three] - 2]
    for t in np.flatnonzero(length > 3):  # only leading zeros can keep these in range
        significant = stream[token_start[t] : token_end[t] + 1].tobytes().lstrip(b"0")
        values[t] = int(significant or b"0") if len(significant) <= 3 else 256  # 256: out of range, fits int16

    row_of_token = np.searchsorted(field_starts, token_start, side="right") - 1
    counts = np.bincount(row_of_token, minlength=len(starts))
    bad_char = np.bincount(np.searchsorted(field_starts, np.flatnonzero(other), side="right") - 1,
                           minlength=len(starts)) > 0
    out_of_range = np.bincount(row_of_token[values > 255], minlength=len(starts)) > 0
    return values.astype(np.uint8), counts, bad_char, out_of_range


def _pixel_detail(raw: bytes, start: int, end: int) -> str:
    """Slow, exact diagnosis of one bad pixels field (only ever run on a rejected row)."""
    tokens = raw[start:end].decode("ascii", "replace").split()
    for position, token in enumerate(tokens, start=1):
        if not token.isdigit():
            return f"field 'pixels': value {position} is '{token[:20]}', not an integer 0-255"
        if len(token.lstrip("0")) > 3 or int(token) > 255:
            return f"field 'pixels': value {position} is {token[:20]}, above 255"
    return f"field 'pixels': expected {PIXELS} integers, found {len(tokens)}"
