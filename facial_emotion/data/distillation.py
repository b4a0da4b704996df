"""Knowledge distillation's targets: the teachers' probabilities for the training faces (the `teach`
stage's file) and the blend a student learns, `(1 - weight) * label target + weight * teachers`.

The teachers' probabilities are keyed by each face's row in the interim data (`FaceDataset.rows`),
so every training set finds them: the split itself, SMOTE's copy (its new faces have row -1 and no
teacher probability: they keep their label target) and the flipped copies (a copy keeps its face's
row; with `distill.tta_flip` the teachers' probabilities are the same for a face and its mirror).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import read_npz, write_npz
from .dataset import IngestError


@dataclass(frozen=True)
class TeacherProbabilities:
    """The mean softmax of the teachers `seeds` over `classes`, one row of `probabilities` per face `rows`."""

    rows: np.ndarray           # int64 [n]
    probabilities: np.ndarray  # float32 [n, k]
    seeds: np.ndarray          # int64 [t]: the teachers, in params.yaml's order
    classes: tuple[str, ...]

    @classmethod
    def none(cls, classes: tuple[str, ...]) -> TeacherProbabilities:
        """The file `teach` writes when distillation is off: zero teachers, zero faces."""
        return cls(np.zeros(0, np.int64), np.zeros((0, len(classes)), np.float32), np.zeros(0, np.int64), classes)

    def save(self, path: str | Path) -> None:
        write_npz(path, rows=self.rows.astype(np.int64), probabilities=self.probabilities.astype(np.float32),
                  seeds=self.seeds.astype(np.int64), classes=np.asarray(self.classes, dtype=str))

    @classmethod
    def load(cls, path: str | Path) -> TeacherProbabilities:
        if not Path(path).exists():
            raise IngestError(f"{path}: missing; run the teach stage (dvc repro teach)")
        arrays = read_npz(path)
        return cls(arrays["rows"], arrays["probabilities"], arrays["seeds"], tuple(str(c) for c in arrays["classes"]))


@dataclass(frozen=True)
class DistilledTargets:
    """The student's targets, float32 [n, k], and how many faces had no teacher probability."""

    y: np.ndarray
    without_teacher: int


def distilled_targets(y: np.ndarray, rows: np.ndarray, teachers: TeacherProbabilities, seeds: list[int],
                      weight: float, classes: tuple[str, ...], where: str) -> DistilledTargets:
    """`(1 - weight) * label target + weight * teachers' probabilities` for each face, found by its row.

    `y`: the label targets, int labels (taken as one-hot) or float [n, k] distributions (FER+'s votes,
    `labels.ferplus_mix`); `rows`: each face's row in the interim data. A face with row -1 (SMOTE's new
    faces) keeps its label target. Anything else that does not fit is one line: teachers other than
    `seeds` (a file from before params.yaml changed), another class count than the student's, or a
    face's row missing from the file.
    """
    if [int(s) for s in teachers.seeds] != [int(s) for s in seeds]:
        raise IngestError(f"{where}: the teachers' probabilities are from teachers {teachers.seeds.tolist()}, "
                          f"params.yaml distill.teachers is {list(seeds)}; rerun the teach stage (dvc repro teach)")
    k = len(classes)
    if teachers.probabilities.shape[1] != k:
        raise IngestError(f"{where}: the teachers give {teachers.probabilities.shape[1]} classes "
                          f"({', '.join(teachers.classes)}), the student learns {k} ({', '.join(classes)}); "
                          "teachers and student must learn the same labels (labels.source)")
    target = (np.eye(k, dtype=np.float32)[y] if y.ndim == 1 else y).astype(np.float32)
    order = np.argsort(teachers.rows, kind="stable")
    known_rows, has_row = teachers.rows[order], rows >= 0
    at = np.searchsorted(known_rows, rows).clip(0, max(len(known_rows) - 1, 0))
    found = has_row & (known_rows[at] == rows) if len(known_rows) else np.zeros(len(rows), dtype=bool)
    lost = has_row & ~found
    if lost.any():
        raise IngestError(f"{where}: {int(lost.sum())} training faces (row {int(rows[lost][0])} first) have no "
                          "teacher probability; the file is from other data: rerun the teach stage (dvc repro teach)")
    blended = target.copy()
    teacher = teachers.probabilities[order[at[found]]].astype(np.float32)
    blended[found] = (1 - weight) * target[found] + weight * teacher
    return DistilledTargets(blended, int((~has_row).sum()))
