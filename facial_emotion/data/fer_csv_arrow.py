"""Fast path for well-formed FER2013 CSVs: Apache Arrow's CSV reader parses the pixel integers in C++.

Read with a space as the delimiter, a FER2013 row is 2,304 columns: 'emotion,pixel1', the 2,302
middle pixels, and 'pixel2304,Usage'. Arrow converts the middle columns straight to uint8 (an
out-of-range or non-integer value fails the conversion) and the two ends are split on the comma.
From a file, the content is gunzipped and hashed in a background thread while Arrow parses.

This path only accepts what it can vouch for: any irregularity at all (a bad value, a wrong column
count, a blank line, an empty field, CR line endings, quotes, a damaged archive) makes it return
None, and the exact numpy parser in fer_csv then reads the file, names the bad line and field, or
skips and counts the row.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
import zlib
from pathlib import Path

import numpy as np

from ..labels import IMAGE_SIZE, NUM_CLASSES, USAGES
from .dataset import FaceDataset

HEADER = b"emotion,pixels,Usage"
PIXELS = IMAGE_SIZE * IMAGE_SIZE
_BLOCK_BYTES = 1 << 24  # Arrow parses 16 MB blocks in parallel: about 2,000 rows each
_GZIP_RATIO = 3  # FER2013 inflates about 3.2x: this much compressed input makes about one Arrow block
# CR and quotes are the exact parser's to normalise (with a note); Arrow's integer parser takes hex ('0x1f').
_NOT_CLEAN = (b"\r", b'"', b"x", b"X")


def parse_clean(raw: bytes) -> FaceDataset | None:
    """The dataset of clean FER2013 CSV bytes (LF endings, no BOM, no quotes), or None when in any doubt."""
    import pyarrow as pa

    if not raw.startswith(HEADER + b"\n") or any(raw.find(c, len(HEADER)) >= 0 for c in _NOT_CLEAN):
        return None
    return _dataset(_table(pa.py_buffer(raw)))


def read_clean_file(path: Path) -> tuple[FaceDataset, str] | None:
    """(dataset, sha256 of the uncompressed content) of a clean .csv or .csv.gz, or None when in any doubt."""
    stream = _InflatingStream(Path(path))
    try:
        table = _table(stream)
    finally:
        stream.close()
    if not stream.complete:
        return None
    dataset = _dataset(table)
    return None if dataset is None else (dataset, stream.sha256.hexdigest())


def _table(source):
    """Arrow's table of the CSV, or None when Arrow refuses it."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"c{i}" for i in range(PIXELS)]
    types = {name: pa.uint8() for name in names[1:-1]}
    types[names[0]] = types[names[-1]] = pa.string()
    try:
        return pa_csv.read_csv(
            source,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK_BYTES),
            # a blank line is a one-column row, so Arrow fails (blank lines would shift row numbers)
            parse_options=pa_csv.ParseOptions(delimiter=" ", quote_char=False, double_quote=False,
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _dataset(table) -> FaceDataset | None:
    """Split the two end columns, check emotion and Usage, and turn columns into rows."""
    import pyarrow.compute as pc

    if table is None or table.num_rows == 0 or any(column.null_count for column in table.columns):
        return None
    # Each end column split on its comma: exactly two parts per row, flattened [a0, b0, a1, b1, ...].
    first = _pairs(pc.split_pattern(table.column(0), ","))  # emotion, first pixel
    last = _pairs(pc.split_pattern(table.column(PIXELS - 1), ","))  # last pixel, Usage
    if first is None or last is None:
        return None
    data, starts, ends = first
    if not ((ends[0::2] - starts[0::2]) == 1).all():  # the emotion: one character
        return None
    labels = data[starts[0::2]] - ord("0")  # uint8: anything below '0' wraps above 6
    if not (labels < NUM_CLASSES).all():
        return None
    first_pixel = _small_ints(data, starts[1::2], ends[1::2])
    data, starts, ends = last
    last_pixel = _small_ints(data, starts[0::2], ends[0::2])
    usage = usage_codes(data, starts[1::2], ends[1::2])
    if first_pixel is None or last_pixel is None or (usage < 0).any():
        return None

    n = table.num_rows
    images = np.empty((n, PIXELS), dtype=np.uint8)
    images[:, 0], images[:, -1] = first_pixel, last_pixel
    row = 0
    for batch in table.select(table.column_names[1:-1]).to_batches():  # columns -> rows, in C++
        images[row : row + batch.num_rows, 1:-1] = batch.to_tensor(row_major=True).to_numpy()
        row += batch.num_rows
    return FaceDataset(
        images=images.reshape(n, IMAGE_SIZE, IMAGE_SIZE),
        labels=labels.astype(np.int64),
        usage=np.asarray(USAGES)[usage],
        rows=np.arange(n, dtype=np.int64),
    )


def usage_codes(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Index into USAGES of each field buf[start:end], -1 when it matches none."""
    width = max(len(u) for u in USAGES)
    offsets = np.arange(width)
    idx = np.minimum(starts[:, None] + offsets[None, :], max(len(buf) - 1, 0))
    window = np.where(offsets[None, :] < (ends - starts)[:, None], buf[idx] if len(buf) else 0, 0)
    codes = np.full(len(starts), -1, dtype=np.int64)
    for code, name in enumerate(USAGES):
        pattern = np.zeros(width, dtype=np.uint8)
        pattern[: len(name)] = np.frombuffer(name.encode(), dtype=np.uint8)
        codes[((ends - starts) == len(name)) & (window == pattern).all(axis=1)] = code
    return codes


# pyarrow's to_numpy, pa.scalar and most compute calls import pandas on first use (0.2 s of a 2 s
# parse), so the end columns are read from Arrow's buffers with numpy.


def _pairs(chunked) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A chunked list<string> column with exactly two strings per row as (bytes, starts, ends) of
    the flattened strings; None when any row has another count."""
    lists = chunked.combine_chunks()
    _, list_offsets = lists.buffers()[:2]
    list_offsets = np.frombuffer(list_offsets, dtype=np.int32)[lists.offset : lists.offset + len(lists) + 1]
    if not (np.diff(list_offsets) == 2).all():
        return None
    strings = lists.values
    _, offsets, data = strings.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int32)
    offsets = offsets[strings.offset : strings.offset + len(strings) + 1].astype(np.int64)
    offsets = offsets[list_offsets[0] : list_offsets[-1] + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    return data, offsets[:-1], offsets[1:]


def _small_ints(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Strings of 1-3 digits, 0-255, as uint8; None for anything else (the exact parser decides)."""
    length = ends - starts
    if not ((length >= 1) & (length <= 3)).all():
        return None
    values = np.zeros(len(starts), dtype=np.int64)
    for k in range(3):  # k-th digit from the right
        has = length > k
        digit = data[ends[has] - 1 - k].astype(np.int64) - ord("0")
        if ((digit < 0) | (digit > 9)).any():
            return None
        values[has] += digit * 10**k
    return values.astype(np.uint8) if (values <= 255).all() else None


def _decompressor():
    """python-isal's inflater (3-5x faster than zlib), or zlib's where isal has no wheel."""
    try:
        from isal import igzip_lib
    except ImportError:
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    return igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)


class _InflatingStream(io.RawIOBase):
    """The file's content as Arrow reads it, inflated and hashed by a background thread.

    Inflating and hashing release the GIL, so they run beside Arrow's parsing threads. On a byte
    the fast path does not take, or a damaged archive, the stream ends early and `complete` stays
    False, so the caller throws the table away and falls back to the exact parser.
    """

    def __init__(self, path: Path):
        super().__init__()
        self.path, self.sha256, self.complete = path, hashlib.sha256(), False
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._stop = threading.Event()
        self._pending = b""
        self._ended = False
        self._thread = threading.Thread(target=self._produce, name="fer2013-inflate", daemon=True)
        self._thread.start()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes; Arrow takes short reads, so whole chunks pass through without a copy."""
        if size < 0:
            rest = b"" if self._ended else b"".join(iter(self._queue.get, None))
            out, self._pending, self._ended = self._pending + rest, b"", True
            return out
        if not self._pending and not self._ended:
            self._pending = self._queue.get() or b""
            self._ended = not self._pending  # None: the end
        out, self._pending = (self._pending, b"") if size >= len(self._pending) else \
            (self._pending[:size], self._pending[size:])
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        super().close()

    def _chunks(self):
        with open(self.path, "rb") as fh:
            if self.path.suffix.lower() != ".gz":
                while chunk := fh.read(_BLOCK_BYTES):
                    yield chunk
                return
            inflater = _decompressor()
            while data := fh.read(_BLOCK_BYTES // _GZIP_RATIO):
                while data:
                    if inflater.eof:  # the next member of a multi-member gzip
                        inflater = _decompressor()
                    yield inflater.decompress(data)
                    data = inflater.unused_data if inflater.eof else b""
            if not inflater.eof:
                raise EOFError("truncated gzip")

    def _produce(self) -> None:
        try:
            start = len(HEADER)
            for chunk in self._chunks():
                if not chunk:
                    continue
                if start and not chunk.startswith(HEADER + b"\n"):
                    return
                if any(chunk.find(c, start) >= 0 for c in _NOT_CLEAN):
                    return
                start = 0
                self.sha256.update(chunk)
                if not self._put(chunk):
                    return
            self.complete = not self._stop.is_set()
        except Exception:  # noqa: BLE001 - any damage: the exact path reads the file and names the problem
            self.complete = False
        finally:
            self._put(None)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
