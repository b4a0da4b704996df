"""The CSV layouts FER2013 is downloaded in, told apart by their header, and turned into one.

- `fer2013.csv` (Kaggle's tarball): `emotion,pixels,Usage`, read by the fast path as it is;
- `icml_face_data.csv` (the challenge page): `emotion, Usage, pixels`, spaces and another order;
- Kaggle's `train.csv`: `emotion,pixels` with quoted pixels, the Training rows only;
- Kaggle's `test.csv`: `pixels` only. Without labels it can't train or test anything.

Any other layout of the three columns is rewritten line for line into FER2013's own, so the one
parser checks every row and its messages keep the file's line numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .dataset import IngestError
from .fer_csv import plain_lines
from .fer_csv_arrow import HEADER

KNOWN_NAMES = ("fer2013.csv", "icml_face_data.csv", "train.csv", "test.csv")  # also as .csv.gz
COLUMNS = ("emotion", "pixels", "usage")


@dataclass(frozen=True)
class CsvLayout:
    """A header that was understood: which column holds what, and which usages the rows can have."""

    name: str  # fer2013 | columns | training_only | unlabelled
    header: str  # as found, for messages
    width: int  # number of columns
    index: tuple[int, ...]  # positions of emotion, pixels, Usage (Usage missing: -1)

    @property
    def usable(self) -> bool:
        return self.name != "unlabelled"

    @property
    def complete(self) -> bool:
        """All three usages can be there (not Kaggle's train.csv)."""
        return self.name in ("fer2013", "columns")

    def describe(self) -> str:
        return {
            "fer2013": "FER2013 CSV (emotion,pixels,Usage)",
            "columns": f"FER2013 CSV with the columns '{self.header}' (as in icml_face_data.csv)",
            "training_only": f"Kaggle's train.csv layout ('{self.header}'): Training rows only, no Usage column",
            "unlabelled": f"no emotion column ('{self.header}'): Kaggle's test.csv has no labels, so it cannot be used",
        }[self.name]


def layout_of(header_line: str) -> CsvLayout | None:
    """The layout a header line announces, or None when it is none of FER2013's."""
    header = header_line.lstrip("\ufeff").strip()
    fields = [f.strip().strip('"').strip().lower() for f in header.split(",")]
    shown = header[:80]
    if header == HEADER.decode():
        return CsvLayout("fer2013", shown, 3, (0, 1, 2))
    if sorted(fields) == sorted(COLUMNS):
        return CsvLayout("columns", shown, 3, tuple(fields.index(c) for c in COLUMNS))
    if sorted(fields) == ["emotion", "pixels"]:
        return CsvLayout("training_only", shown, 2, (fields.index("emotion"), fields.index("pixels"), -1))
    if "pixels" in fields and "emotion" not in fields:
        return CsvLayout("unlabelled", shown, len(fields), (-1, fields.index("pixels"), -1))
    return None


def to_fer2013(raw: bytes, layout: CsvLayout, name: str, on_bad_row: str) -> tuple[bytes, Counter, list[str]]:
    """Rewrite CSV bytes of `layout` as `emotion,pixels,Usage`, one output line per input line.

    Returns the bytes, rows rejected here (a wrong number of fields: the line is left blank so
    later line numbers still match) and notes. Everything else is the parser's to check."""
    if not layout.usable:
        raise IngestError(f"{name}: {layout.describe()}")
    raw, notes = plain_lines(raw)
    if layout.name == "training_only":
        notes.append("Kaggle's train.csv holds FER2013's Training rows only: every row is read as Training, "
                     "and there is no PublicTest or PrivateTest (use split.strategy: study1)")
    lines = raw.split(b"\n")
    lines[0] = HEADER
    emotion, pixels, usage = layout.index
    rejected: Counter = Counter()
    for i in range(1, len(lines)):  # in place: each old line is freed as its new one is made
        if not lines[i]:
            continue
        fields = lines[i].split(b",")
        if len(fields) != layout.width:
            if on_bad_row == "error":
                raise IngestError(f"{name} line {i + 1}: expected {layout.width} fields ({layout.header}), "
                                  f"found {len(fields)}")
            rejected["field_count"] += 1
            lines[i] = b""
            continue
        fields = [f.strip().strip(b'"').strip() for f in fields]
        lines[i] = b",".join((fields[emotion], fields[pixels], fields[usage] if usage >= 0 else b"Training"))
    return b"\n".join(lines), rejected, notes
