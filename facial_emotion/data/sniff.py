"""What a file's first bytes say it is: gzip or not, an archive, and which text encoding.

Users rename, re-save and re-download files; the name is a hint, the bytes decide. Each check
returns a short phrase for a one-line error (or None when all is well), so the message says what
was found and what to do, e.g. "not gzip: it is plain text: rename it to fer2013.csv".
"""

from __future__ import annotations

import zlib

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
HEAD_BYTES = 1 << 16  # enough for the header line and a few rows of any FER2013 layout

_BOMS = (  # longest first: UTF-32 LE starts with UTF-16 LE's mark
    (b"\xff\xfe\x00\x00", "UTF-32 little-endian (byte-order mark FF FE 00 00)"),
    (b"\x00\x00\xfe\xff", "UTF-32 big-endian (byte-order mark 00 00 FE FF)"),
    (b"\xff\xfe", "UTF-16 little-endian (byte-order mark FF FE)"),
    (b"\xfe\xff", "UTF-16 big-endian (byte-order mark FE FF)"),
)
_CODECS = {"UTF-32 l": "utf-32-le", "UTF-32 b": "utf-32-be", "UTF-16 l": "utf-16-le", "UTF-16 b": "utf-16-be"}


def without_gz(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def _base(name: str) -> str:
    """The file name alone, also of 'archive:member' names."""
    return name.replace(":", "/").rsplit("/", 1)[-1]


def gzip_problem(name: str, head: bytes) -> str | None:
    """Why bytes named `*.gz` are not gzip data, with the fix; None when they are."""
    name = _base(name)
    if head.startswith(GZIP_MAGIC):
        return None
    if not head:
        return "the file is empty"
    if head.startswith(ZIP_MAGIC):
        return f"not gzip: it is a zip archive: rename it to {without_gz(name)}.zip"
    if looks_like_text(head):
        return f"not gzip: it is plain text (already decompressed?): rename it to {without_gz(name)}"
    return f"not gzip (it starts with bytes {head[:4].hex(' ')}): download it again"


def plain_csv_problem(name: str, head: bytes) -> str | None:
    """Why bytes named `*.csv` are compressed rather than text; None when they are not."""
    name = _base(name)
    if head.startswith(GZIP_MAGIC):
        return f"gzip-compressed, though named .csv: rename it to {name}.gz"
    if head.startswith(ZIP_MAGIC):
        return f"a zip archive, though named .csv: rename it to {name[:-4]}.zip"
    return None


def gunzip_head(data: bytes, size: int = HEAD_BYTES) -> bytes:
    """The first `size` inflated bytes of (possibly partial) gzip data; damage raises ValueError."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(data, size)
    except zlib.error as exc:
        raise ValueError(f"damaged gzip data ({exc})") from None


def looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    return bool(sample) and b"\x00" not in sample and all(b >= 32 or b in b"\t\n\r\x0c" for b in sample[:512])


def encoding_problem(head: bytes) -> str | None:
    """The encoding of text that FER2013's ASCII readers can't take (UTF-16/32, or a non-ASCII header).

    A UTF-8 byte-order mark before an ASCII header is fine (the parser drops it, with a note)."""
    for bom, description in _BOMS:
        if head.startswith(bom):
            return f"the text is {description}, not ASCII"
    line = first_line(head)
    if b"\x00" in line:
        order = "big" if line.startswith(b"\x00") else "little"
        return f"the text is UTF-16 {order}-endian without a byte-order mark, not ASCII"
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    if line.isascii():
        return None
    column = next(i for i, b in enumerate(line) if b > 127) + 1
    try:
        shown = line.decode("utf-8")
    except UnicodeDecodeError:
        return (f"the header is not ASCII: byte 0x{line[column - 1]:02X} at column {column} is not UTF-8 "
                f"either (an 8-bit encoding such as Latin-1 or Windows-1252)")
    return f"the header is not ASCII: UTF-8 text with non-ASCII characters from column {column} ('{shown[:50]}')"


def decoded_first_line(head: bytes) -> str:
    """The first line as text, decoding UTF-16/32 by its mark or NUL pattern (to name a layout in a message)."""
    for bom, description in _BOMS:
        if head.startswith(bom):
            return _decode(head[len(bom):], _CODECS[description[:8]])
    if b"\x00" in head[:200]:
        return _decode(head, "utf-16-be" if head.startswith(b"\x00") else "utf-16-le")
    text = head.decode("utf-8", "replace")
    return text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")


def _decode(data: bytes, codec: str) -> str:
    width = 4 if "32" in codec else 2
    text = data[: len(data) - len(data) % width].decode(codec, "replace")
    return text.split("\n", 1)[0].rstrip("\r")


def first_line(head: bytes) -> bytes:
    return head.split(b"\n", 1)[0].rstrip(b"\r")
