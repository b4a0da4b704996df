"""Knowledge distillation on a few generated faces: the student's target is the blend of its label
target and the teachers' probabilities, found by each face's row; SMOTE's new faces keep their label;
the teach stage's logic reads the named teachers only (tiny Keras models saved to disk)."""

from __future__ import annotations

import numpy as np
import pytest

from facial_emotion.data.dataset import FaceDataset, IngestError
from facial_emotion.data.distillation import TeacherProbabilities, distilled_targets
from facial_emotion.labels import EMOTIONS, FERPLUS_EMOTIONS
from facial_emotion.models.store import ModelStoreError
from facial_emotion.models.teachers import teacher_folders, teacher_probabilities


def teachers_file(rows, probabilities, seeds=(7, 11), classes=EMOTIONS) -> TeacherProbabilities:
    return TeacherProbabilities(np.asarray(rows, np.int64), np.asarray(probabilities, np.float32),
                                np.asarray(seeds, np.int64), classes)


# Rows 10-13 of the interim data, in another order than the training set's; row 13 is not a training face.
TEACHER_ROWS = [12, 10, 13, 11]
TEACHER_P = np.array([[0.1, 0, 0, 0.6, 0, 0, 0.3],     # row 12
                      [0.5, 0, 0, 0, 0.5, 0, 0],       # row 10
                      [0, 0, 0, 0, 0, 1.0, 0],         # row 13
                      [0, 0.2, 0.2, 0, 0, 0, 0.6]])    # row 11


def test_each_face_learns_its_label_blended_with_the_teachers_probabilities_for_its_row():
    labels = np.array([0, 3, 6, 2])           # rows 10, 12, 11 and a SMOTE face (-1)
    rows = np.array([10, 12, 11, -1])
    result = distilled_targets(labels, rows, teachers_file(TEACHER_ROWS, TEACHER_P), [7, 11], 0.25, EMOTIONS,
                               "train")
    assert result.y.dtype == np.float32 and result.y.shape == (4, 7)
    assert np.allclose(result.y[0], [0.75 + 0.125, 0, 0, 0, 0.125, 0, 0])
    assert np.allclose(result.y[1], [0.025, 0, 0, 0.75 + 0.15, 0, 0, 0.075])
    assert np.allclose(result.y[2], [0, 0.05, 0.05, 0, 0, 0, 0.75 + 0.15])
    assert np.array_equal(result.y[3], np.eye(7, dtype=np.float32)[2])  # SMOTE's new face: its label alone
    assert result.without_teacher == 1
    assert np.allclose(result.y.sum(axis=1), 1)


def test_a_distribution_target_is_blended_as_it_is_and_weight_1_is_the_teachers_alone():
    votes = np.array([[0.5, 0, 0, 0.5, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1.0]], np.float32)  # FER+ votes, ferplus_mix
    teachers = teachers_file(TEACHER_ROWS, TEACHER_P)
    half = distilled_targets(votes, np.array([12, 11]), teachers, [7, 11], 0.5, EMOTIONS, "train")
    assert np.allclose(half.y[0], [0.3, 0, 0, 0.55, 0, 0, 0.15])
    assert np.allclose(half.y[1], [0, 0.1, 0.1, 0, 0, 0, 0.8])
    assert half.without_teacher == 0
    alone = distilled_targets(votes, np.array([12, 11]), teachers, [7, 11], 1.0, EMOTIONS, "train")
    assert np.allclose(alone.y, TEACHER_P[[0, 3]])


def test_teachers_with_another_class_count_than_the_student_are_one_line():
    eight = np.hstack([TEACHER_P, np.zeros((4, 1))])
    teachers = teachers_file(TEACHER_ROWS, eight, classes=FERPLUS_EMOTIONS)
    with pytest.raises(IngestError) as info:
        distilled_targets(np.array([0, 3]), np.array([10, 12]), teachers, [7, 11], 0.5, EMOTIONS, "train cnn-none-relu")
    message = str(info.value)
    assert message.startswith("train cnn-none-relu: the teachers give 8 classes") and "the student learns 7" in message
    assert "\n" not in message


def test_a_file_from_other_teachers_or_other_faces_is_one_line_not_a_silent_fallback():
    teachers = teachers_file(TEACHER_ROWS, TEACHER_P)
    with pytest.raises(IngestError, match=r"from teachers \[7, 11\], params.yaml distill.teachers is \[7\]; rerun"):
        distilled_targets(np.array([0]), np.array([10]), teachers, [7], 0.5, EMOTIONS, "train")
    with pytest.raises(IngestError, match=r"1 training faces \(row 99 first\) have no teacher probability"):
        distilled_targets(np.array([0, 1]), np.array([10, 99]), teachers, [7, 11], 0.5, EMOTIONS, "train")


def test_the_teachers_file_round_trips_and_says_when_there_are_none(tmp_path):
    path = tmp_path / "probabilities.npz"
    teachers_file(TEACHER_ROWS, TEACHER_P).save(path)
    back = TeacherProbabilities.load(path)
    assert back.rows.dtype == np.int64 and back.probabilities.dtype == np.float32
    assert back.rows.tolist() == TEACHER_ROWS and np.array_equal(back.probabilities, TEACHER_P.astype(np.float32))
    assert back.seeds.tolist() == [7, 11] and back.classes == EMOTIONS
    TeacherProbabilities.none(FERPLUS_EMOTIONS).save(path)
    none = TeacherProbabilities.load(path)
    assert none.seeds.tolist() == [] and none.probabilities.shape == (0, 8) and none.classes == FERPLUS_EMOTIONS
    with pytest.raises(IngestError, match="missing; run the teach stage"):
        TeacherProbabilities.load(tmp_path / "absent.npz")


# --- the teach stage's logic: the named teachers, and only those -----------------------------------------


def save_teacher(folder, seed: int, classes: int = 7) -> None:
    """A tiny softmax network on the pixels, with seeded weights, saved as a teacher's model.keras."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(classes, activation="softmax")(keras.layers.Flatten()(x))
    folder.mkdir(parents=True)
    keras.Model(inputs, outputs).save(folder / "model.keras")


@pytest.fixture(scope="module")
def teachers_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("teachers")
    save_teacher(root / "7", 7)
    save_teacher(root / "11", 11)
    save_teacher(root / "8", 8, classes=8)
    stale = root / "3"  # a seed removed from distill.teachers: its folder stays, unreadable here
    stale.mkdir()
    (stale / "model.keras").write_text("not a model")
    return root


def faces(n: int = 5) -> FaceDataset:
    rng = np.random.default_rng(0)
    return FaceDataset(images=rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), labels=np.arange(n) % 7,
                       usage=np.array(["Training"] * n), rows=np.arange(100, 100 + n))


def test_teach_averages_the_named_teachers_over_each_face_and_its_mirror(teachers_root):
    from facial_emotion.models.store import load_keras_model, predict_in_batches

    train = faces()
    result = teacher_probabilities([7, 11], train, EMOTIONS, True, root=teachers_root)
    one, two = (load_keras_model(teachers_root / s / "model.keras") for s in ("7", "11"))
    mirrored = train.images[:, :, ::-1]
    expected = np.mean([predict_in_batches(m, x) for m in (one, two) for x in (train.images, mirrored)], axis=0)
    assert result.rows.tolist() == train.rows.tolist() and result.seeds.tolist() == [7, 11]
    assert result.probabilities.dtype == np.float32 and np.allclose(result.probabilities, expected, atol=1e-6)
    assert np.allclose(result.probabilities.sum(axis=1), 1, atol=1e-5)
    plain = teacher_probabilities([7], train, EMOTIONS, False, root=teachers_root)
    assert np.allclose(plain.probabilities, predict_in_batches(one, train.images), atol=1e-6)


def test_teach_reads_no_stale_teacher_and_names_a_missing_one(teachers_root):
    assert teacher_folders([11, 7], teachers_root) == [teachers_root / "11", teachers_root / "7"]  # not 3 or 8
    with pytest.raises(ModelStoreError) as info:
        teacher_folders([7, 5], teachers_root)
    message = str(info.value)
    assert "names teacher 5" in message and "dvc repro teacher@5" in message and "\n" not in message
    none = teacher_probabilities([], faces(), EMOTIONS, True, root=teachers_root / "absent")
    assert none.seeds.tolist() == [] and none.probabilities.shape == (0, 7)


def test_teach_refuses_a_teacher_with_another_class_count(teachers_root):
    with pytest.raises(ModelStoreError, match=r"the teacher gives 8 classes, labels.source has 7 .*teacher@8"):
        teacher_probabilities([7, 8], faces(), EMOTIONS, False, root=teachers_root)
