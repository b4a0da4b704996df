"""The teacher networks of knowledge distillation (models/teachers/<seed>/, one `teacher` stage each)
and their mean class probabilities, computed once by the `teach` stage for the students to learn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.dataset import FaceDataset
from ..data.distillation import TeacherProbabilities
from ..paths import TEACHERS_DIR
from .store import KERAS_FILE, ModelStoreError, flip_averaged, load_predictor, model_dir


def teacher_name(seed: int) -> str:
    """The teacher's MLflow run name and resume-state name."""
    return f"teacher-{seed}"


def teacher_dir(seed: int, root: Path = TEACHERS_DIR) -> Path:
    return model_dir(str(seed), root)


def teacher_folders(seeds: list[int], root: Path = TEACHERS_DIR) -> list[Path]:
    """The folders of the teachers params.yaml names, in its order. Only those: a folder left by a seed
    no longer named (DVC does not delete a removed stage's output) is not read."""
    folders = [teacher_dir(seed, root) for seed in seeds]
    for seed, folder in zip(seeds, folders):
        if not (folder / KERAS_FILE).exists():
            raise ModelStoreError(f"{folder / KERAS_FILE}: missing, but params.yaml distill.teachers names teacher "
                                  f"{seed}; run its stage (dvc repro teacher@{seed})")
    return folders


def teacher_probabilities(seeds: list[int], faces: FaceDataset, classes: tuple[str, ...], tta_flip: bool,
                          root: Path = TEACHERS_DIR) -> TeacherProbabilities:
    """What the `teach` stage writes: the named teachers' mean probabilities for every face, by its row;
    zero teachers and zero faces when none is named (distillation off; TensorFlow is not loaded)."""
    if not seeds:
        return TeacherProbabilities.none(classes)
    probabilities = mean_probabilities(teacher_folders(seeds, root), faces.images, classes, tta_flip)
    return TeacherProbabilities(faces.rows.astype(np.int64), probabilities, np.asarray(seeds, dtype=np.int64),
                                classes)


def mean_probabilities(folders: list[Path], images: np.ndarray, classes: tuple[str, ...],
                       tta_flip: bool) -> np.ndarray:
    """float32 [n, k]: the mean over the teachers of each one's softmax for the faces (each the mean over
    the face and its mirror under `tta_flip`). A teacher with another class count than `classes` is one line."""
    total = np.zeros((len(images), len(classes)), dtype=np.float64)
    for folder in folders:
        probabilities = flip_averaged(load_predictor(folder), tta_flip)(images)
        if probabilities.shape[1] != len(classes):
            raise ModelStoreError(f"{folder}: the teacher gives {probabilities.shape[1]} classes, labels.source "
                                  f"has {len(classes)} ({', '.join(classes)}); rerun it (dvc repro {_stage(folder)})")
        total += probabilities
    return (total / max(len(folders), 1)).astype(np.float32)


def _stage(folder: Path) -> str:
    return f"teacher@{folder.name}"
