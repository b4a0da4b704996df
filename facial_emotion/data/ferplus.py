"""FER+ (Barsoum et al., ICMI 2016): ten annotators' votes for every FER2013 face, read from
Microsoft's `fer2013new.csv` and checked row for row against the FER2013 file they relabel.

Votes are kept as uint8 [n, 10] in this package's class order (FER2013's seven, then contempt),
then unknown and not-a-face. The majority rule, the vote distribution and which faces leave the
training set are written here once; every stage and score takes them from here.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from pathlib import Path

import numpy as np

from ..labels import FERPLUS_EMOTIONS, USAGES
from .dataset import IngestError

FERPLUS_NAMES = ("fer2013new.csv", "fer2013new.csv.gz")
# The file's own column order (microsoft/FERPlus), after Usage and Image name.
FILE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
VOTE_COLUMNS = (*FERPLUS_EMOTIONS, "unknown", "NF")  # the order kept in faces.npz
_TO_KEPT = [FILE_COLUMNS.index(name) for name in VOTE_COLUMNS]
N_EMOTIONS = len(FERPLUS_EMOTIONS)
MAX_VOTES = 10

# Why a face has no FER+ majority label (the summaries count them under these names).
NO_MAJORITY_UNKNOWN = "majority unknown or not a face"
NO_MAJORITY_TIE = "tie between the most-voted classes"
NO_VOTES = "no votes"


def find_vote_file(raw_dir: str | Path) -> Path | None:
    """`fer2013new.csv[.gz]` directly in data/raw/ or one folder down, else None."""
    raw_dir = Path(raw_dir)
    for folder in (raw_dir, *sorted(p for p in raw_dir.iterdir() if p.is_dir())) if raw_dir.is_dir() else ():
        for name in FERPLUS_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def read_votes(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(votes uint8 [n, 10] in VOTE_COLUMNS order, usage str [n]); a bad row is a one-line error naming it."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise IngestError(f"{path}: not a complete gzip file ({exc})") from None
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
    header = next(reader, None)
    expected = ["Usage", "Image name", *FILE_COLUMNS]
    if header is None or [h.strip() for h in header] != expected:
        raise IngestError(f"{path}: line 1: expected FER+'s header {','.join(expected)}, got "
                          f"{','.join(header or [])[:120]!r}")
    usages, rows = [], []
    for line, row in enumerate(reader, start=2):
        if len(row) != len(expected):
            raise IngestError(f"{path}: line {line}: expected {len(expected)} fields, got {len(row)}")
        usage = row[0].strip()
        if usage not in USAGES:
            raise IngestError(f"{path}: line {line}: Usage must be one of {', '.join(USAGES)}, not {usage!r}")
        try:
            counts = [int(value) for value in row[2:]]
        except ValueError:
            raise IngestError(f"{path}: line {line}: vote counts must be whole numbers 0-{MAX_VOTES}, "
                              f"got {','.join(row[2:])!r}") from None
        if min(counts) < 0 or max(counts) > MAX_VOTES or sum(counts) > MAX_VOTES:
            raise IngestError(f"{path}: line {line}: vote counts must be 0-{MAX_VOTES} with at most {MAX_VOTES} "
                              f"in all, got {','.join(row[2:])}")
        usages.append(usage)
        rows.append(counts)
    votes = np.asarray(rows, dtype=np.uint8).reshape(-1, len(FILE_COLUMNS))[:, _TO_KEPT]
    return votes, np.asarray(usages)


def align_votes(votes: np.ndarray, vote_usage: np.ndarray, source_rows: int, rows: np.ndarray, usage: np.ndarray,
                vote_file: str, fer_file: str) -> np.ndarray:
    """The votes of the faces read, by their FER2013 data row; the two files must match row for row.

    `source_rows`: the FER2013 file's data rows (read and rejected); `rows`/`usage`: each face read.
    """
    if len(votes) != source_rows:
        raise IngestError(f"{vote_file}: {len(votes)} vote rows, but {fer_file} has {source_rows} data rows; "
                          "FER+'s file relabels FER2013 row for row (35,887 rows each)")
    mismatch = np.flatnonzero(vote_usage[rows] != usage)
    if len(mismatch):
        first = int(mismatch[0])
        raise IngestError(f"{vote_file}: line {int(rows[first]) + 2}: Usage {str(vote_usage[rows[first]])!r} but "
                          f"{fer_file} says {str(usage[first])!r} for the same row ({len(mismatch)} rows differ); "
                          "is it the FER+ file for this FER2013 copy?")
    return votes[rows]


def majority(votes: np.ndarray) -> tuple[np.ndarray, Counter]:
    """FER+ majority labels (int64, -1 where there is none) and how many faces have none, by reason.

    The rule: the class with strictly the most votes among the eight emotions, unknown and not-a-face;
    a face whose top is unknown or not-a-face, or whose top is shared by two classes, has no label.
    """
    votes = np.asarray(votes, dtype=np.int64)
    top = votes.max(axis=1)
    winners = (votes == top[:, None]).sum(axis=1)
    best = votes.argmax(axis=1)
    labels = np.where((winners == 1) & (best < N_EMOTIONS) & (top > 0), best, -1).astype(np.int64)
    reasons: Counter = Counter()
    reasons[NO_VOTES] = int((top == 0).sum())
    reasons[NO_MAJORITY_TIE] = int(((winners > 1) & (top > 0)).sum())
    reasons[NO_MAJORITY_UNKNOWN] = int(((winners == 1) & (best >= N_EMOTIONS) & (top > 0)).sum())
    return labels, +reasons


def distribution(votes: np.ndarray) -> np.ndarray:
    """float32 [n, 8]: each face's emotion votes as a distribution (unknown and not-a-face left out)."""
    emotions = np.asarray(votes, dtype=np.float32)[:, :N_EMOTIONS]
    totals = emotions.sum(axis=1, keepdims=True)
    return np.divide(emotions, totals, out=np.zeros_like(emotions), where=totals > 0)


def trainable(votes: np.ndarray, target: str) -> np.ndarray:
    """Which faces a FER+ model may train on: those with a majority label (`majority`), or, for
    `distribution`, also ties between emotions; never a face whose top is unknown or not-a-face."""
    labels, _ = majority(votes)
    if target == "majority":
        return labels >= 0
    votes = np.asarray(votes, dtype=np.int64)
    top = votes.max(axis=1)
    return (top > 0) & (votes[:, :N_EMOTIONS].max(axis=1) == top) & (votes[:, N_EMOTIONS:].max(axis=1) < top)


def targets(votes: np.ndarray, target: str) -> np.ndarray:
    """What a FER+ model learns: int labels (`majority`) or float32 [n, 8] vote distributions."""
    if target == "majority":
        return majority(votes)[0]
    return distribution(votes)


def synthetic_votes(labels: np.ndarray, seed: int) -> np.ndarray:
    """Votes for synthetic faces: most annotators agree with the face's label, a few pick another
    class, unknown or not-a-face, and about one face in twenty is mostly voted contempt or unknown."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    votes = np.zeros((n, len(VOTE_COLUMNS)), dtype=np.uint8)
    main = np.asarray(labels, dtype=np.int64).copy()
    odd = rng.random(n) < 0.05
    main[odd] = rng.choice([N_EMOTIONS - 1, N_EMOTIONS], size=int(odd.sum()))  # contempt or unknown
    agree = rng.integers(6, 11, size=n)
    for i in range(n):
        votes[i, main[i]] = agree[i]
        others = rng.integers(0, len(VOTE_COLUMNS), size=MAX_VOTES - agree[i])
        np.add.at(votes[i], others, 1)
    return votes
