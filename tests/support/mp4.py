"""Real mp4 files made at test time: OpenCV's VideoWriter (mp4v) writes the index (`moov`) after
the frames (`mdat`), as FFmpeg does by default; phones write it first ("fast start"), so a file cut
short still opens and declares all its frames. `fast_start` moves the index to the front, as
FFmpeg's `-movflags +faststart` and qt-faststart do, so both kinds can be tested offline."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}


def write_clip(path: Path, frames: int = 50, size: tuple[int, int] = (160, 120), fps: float = 15.0) -> Path:
    """A clip of moving noise-free gradients, mp4v in mp4, index at the end."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    width, height = size
    ramp = np.tile(np.arange(width, dtype=np.int32) % 256, (height, 1))
    for i in range(frames):
        frame = np.dstack([(ramp + 4 * i) % 256, ramp[:, ::-1] // 2, np.full_like(ramp, (7 * i) % 256)])
        writer.write(np.ascontiguousarray(frame, dtype=np.uint8))
    writer.release()
    return path


def _atoms(data: bytes, start: int = 0, end: int | None = None):
    """(type, offset, size) of the atoms between start and end."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        elif size == 0:
            size = end - offset
        yield kind, offset, size
        offset += size


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, shift: int) -> None:
    for kind, offset, size in _atoms(moov, start, end):
        if kind in CONTAINERS:
            _shift_chunk_offsets(moov, offset + 8, offset + size, shift)
        elif kind in (b"stco", b"co64"):
            count = struct.unpack(">I", moov[offset + 12:offset + 16])[0]
            width, fmt = (4, ">I") if kind == b"stco" else (8, ">Q")
            for i in range(count):
                at = offset + 16 + i * width
                moov[at:at + width] = struct.pack(fmt, struct.unpack(fmt, moov[at:at + width])[0] + shift)


def fast_start(data: bytes) -> bytes:
    """The same mp4 with its `moov` before its `mdat`, chunk offsets moved to match."""
    atoms = list(_atoms(data))
    kinds = [kind for kind, _, _ in atoms]
    assert b"moov" in kinds and b"mdat" in kinds, kinds
    if kinds.index(b"moov") < kinds.index(b"mdat"):
        return data
    _, moov_at, moov_size = atoms[kinds.index(b"moov")]
    moov = bytearray(data[moov_at:moov_at + moov_size])
    _shift_chunk_offsets(moov, 8, len(moov), moov_size)
    out = bytearray()
    for kind, offset, size in atoms:
        if kind == b"mdat":
            out += moov
        if kind != b"moov":
            out += data[offset:offset + size]
    return bytes(out)
