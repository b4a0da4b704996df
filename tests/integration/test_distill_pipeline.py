"""Knowledge distillation through the real pipeline on the tiny synthetic data: `distill.teachers: [7]`
makes the stage teacher@7, `teach` computes its probabilities once, and the students blend them into
their targets; with the default `[]` the pipeline runs no teacher and `teach` writes zero teachers."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def _json(root, name):
    return json.loads((root / name).read_text())


def test_students_distill_from_a_teacher_whose_probabilities_are_computed_once(pipeline_fork):
    from facial_emotion.data.dataset import FaceDataset
    from facial_emotion.data.distillation import TeacherProbabilities

    root = pipeline_fork.root
    # The built pipeline (distill.teachers: []) ran teach with no teacher and trained on the labels alone.
    assert "distillation is off" in pipeline_fork.first_repro_output
    assert "teacher@" not in pipeline_fork.first_repro_output
    assert TeacherProbabilities.load(root / "data/teacher/probabilities.npz").seeds.tolist() == []
    assert "distilling" not in pipeline_fork.first_repro_output

    pipeline_fork.set_params({"distill.teachers": [7]})
    result = pipeline_fork.dvc("repro", "train@none-relu", "train@smote-relu")
    output = result.stdout + result.stderr
    ran = set(re.findall(r"Running stage '([^']+)'", output))
    assert {"teacher@7", "teach", "train@none-relu", "train@smote-relu"} <= ran, ran
    assert not ran & {"ingest", "preprocess", "balance"}, ran

    assert (root / "models/teachers/7/model.keras").is_file()
    client = MlflowClient(pipeline_fork.tracking_uri)
    teacher = client.get_run(_json(root, "models/teachers/7/mlflow_run.json")["run_id"])
    assert teacher.info.run_name == "teacher-7" and teacher.data.tags["model_kind"] == "teacher"
    assert teacher.data.params["seed"] == "7" and not any(k.startswith("distill") for k in teacher.data.params)

    teachers = TeacherProbabilities.load(root / "data/teacher/probabilities.npz")
    train = FaceDataset.load(root / "data/processed/train.npz")
    assert teachers.seeds.tolist() == [7] and teachers.rows.dtype == np.int64
    assert sorted(teachers.rows.tolist()) == sorted(train.rows.tolist())  # one row per training face
    assert teachers.probabilities.dtype == np.float32 and teachers.probabilities.shape == (len(train), 7)
    np.testing.assert_allclose(teachers.probabilities.sum(axis=1), 1, atol=1e-5)

    assert "cnn-none-relu: distilling from 1 teacher (seeds 7) at weight 0.5" in output
    # SMOTE's new faces have no teacher probability: they keep their label, counted in the log.
    assert re.search(r"cnn-smote-relu: distilling from 1 teacher \(seeds 7\) at weight 0.5; \d+ of \d+ training "
                     r"faces have no teacher probability", output)
    student = client.get_run(_json(root, "models/cnn-none-relu/mlflow_run.json")["run_id"])
    assert student.data.params["distill.teachers"] == "[7]" and student.data.params["distill.weight"] == "0.5"
    assert student.data.tags["model_kind"] == "cnn"
    assert _json(root, "models/cnn-none-relu/mlflow_run.json")["distill"]["teachers"] == [7]
