"""The in-memory form every reader produces: uint8 faces, int labels, usage, source row ids."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PipelineError
from ..files import read_npz, write_npz


class IngestError(PipelineError, ValueError):
    """Bad input, with a one-line message naming the file, line or field."""


@dataclass
class FaceDataset:
    images: np.ndarray  # uint8 [n, 48, 48]
    labels: np.ndarray  # int64 [n], 0..6
    usage: np.ndarray  # str [n]: Training | PublicTest | PrivateTest
    rows: np.ndarray  # int64 [n]: 0-based data row (CSV) or file index (folders) in the source
    rejected: Counter = field(default_factory=Counter)  # reason -> count of skipped rows
    notes: list[str] = field(default_factory=list)  # things a person should know about the input
    skipped: Counter = field(default_factory=Counter)  # reason -> count of input files that are not faces (Thumbs.db)
    followed_links: list[str] = field(default_factory=list)  # linked folders read, as 'link -> target'
    source: str = "unknown"  # csv | folders | synthetic: travels with the arrays to every stage
    sha256: str = "unknown"  # of the input, so every MLflow run can name the data it saw
    votes: np.ndarray | None = None  # uint8 [n, 10]: FER+'s votes (data/ferplus.py VOTE_COLUMNS), when read

    @property
    def has_votes(self) -> bool:
        return self.votes is not None

    def __len__(self) -> int:
        return len(self.labels)

    def save(self, path: str | Path) -> None:
        extra = {} if self.votes is None else {"votes": self.votes}
        write_npz(
            path,
            images=self.images,
            labels=self.labels,
            usage=self.usage.astype("U11"),
            rows=self.rows,
            source=np.asarray(self.source),
            sha256=np.asarray(self.sha256),
            **extra,
        )

    @classmethod
    def load(cls, path: str | Path) -> FaceDataset:
        arrays = read_npz(path)
        return cls(
            images=arrays["images"],
            labels=arrays["labels"].astype(np.int64),
            usage=arrays["usage"].astype(str),
            rows=arrays["rows"],
            source=str(arrays["source"]),
            sha256=str(arrays["sha256"]),
            votes=arrays.get("votes"),
        )

    def subset(self, indices: np.ndarray) -> FaceDataset:
        """The given rows, keeping provenance; `rows` become indices into this dataset."""
        return FaceDataset(
            images=self.images[indices],
            labels=self.labels[indices],
            usage=self.usage[indices],
            rows=np.asarray(indices, dtype=np.int64),
            source=self.source,
            sha256=self.sha256,
            votes=None if self.votes is None else self.votes[indices],
        )

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"
