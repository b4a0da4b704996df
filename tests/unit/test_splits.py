"""Splits: the official one keeps FER2013's test sets apart; the seed one reproduces the first study row for row."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from facial_emotion.data.dataset import FaceDataset
from facial_emotion.data.splits import SplitError, challenge_split, make_split, official_split, study1_split
from facial_emotion.errors import PipelineError
from facial_emotion.labels import NUM_CLASSES

CLASS_COUNTS = (50, 6, 52, 90, 61, 40, 62)  # FER2013's shape, disgust rare


def make_dataset(class_counts=CLASS_COUNTS, usage_shares=(0.8, 0.1, 0.1), seed: int = 0) -> FaceDataset:
    """Shuffled labels with the given class counts; usage assigned in FER's order, stratified."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(NUM_CLASSES), class_counts)).astype(np.int64)
    n = len(labels)
    usage = np.empty(n, dtype=object)
    for c in range(NUM_CLASSES):
        rows = np.flatnonzero(labels == c)
        cut1 = int(round(len(rows) * usage_shares[0]))
        cut2 = cut1 + int(round(len(rows) * usage_shares[1]))
        usage[rows[:cut1]], usage[rows[cut1:cut2]], usage[rows[cut2:]] = "Training", "PublicTest", "PrivateTest"
    return FaceDataset(images=np.zeros((n, 48, 48), dtype=np.uint8), labels=labels, usage=usage.astype(str),
                       rows=np.arange(n))


@pytest.fixture(scope="module")
def ds() -> FaceDataset:
    return make_dataset()


# --- official -------------------------------------------------------------------------------------


def test_official_split_is_disjoint_and_covers_everything(ds) -> None:
    split = official_split(ds, 0.1, 42)
    train, val, test = set(split.train.tolist()), set(split.val.tolist()), set(split.test.tolist())
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val == set(np.flatnonzero(ds.usage == "Training").tolist())
    assert test == set(np.flatnonzero(ds.usage != "Training").tolist())
    assert len(split.train) + len(split.val) + len(split.test) == len(ds)
    assert not split.test_is_validation


def test_official_test_is_public_plus_private(ds) -> None:
    split = official_split(ds, 0.1, 42)
    assert sorted(set(ds.usage[split.test].tolist())) == ["PrivateTest", "PublicTest"]
    assert len(split.test) == int((ds.usage == "PublicTest").sum() + (ds.usage == "PrivateTest").sum())


def test_official_validation_is_stratified(ds) -> None:
    fraction = 0.2
    split = official_split(ds, fraction, 42)
    training_counts = np.bincount(ds.labels[ds.usage == "Training"], minlength=NUM_CLASSES)
    val_counts = np.bincount(ds.labels[split.val], minlength=NUM_CLASSES)
    assert np.all(np.abs(val_counts - fraction * training_counts) <= 1), (val_counts, training_counts)
    assert len(split.val) == int(np.ceil(fraction * training_counts.sum()))


def test_official_split_is_sorted_and_reproducible(ds) -> None:
    first, again, other = official_split(ds, 0.1, 42), official_split(ds, 0.1, 42), official_split(ds, 0.1, 7)
    assert np.array_equal(first.train, np.sort(first.train)) and np.array_equal(first.val, np.sort(first.val))
    assert np.array_equal(first.val, again.val) and np.array_equal(first.train, again.train)
    assert not np.array_equal(first.val, other.val)


def test_a_class_with_one_training_row_is_a_one_line_error() -> None:
    """scikit-learn's own error is a traceback about "the least populated class"."""
    ds = make_dataset()
    training = np.flatnonzero(ds.usage == "Training")
    keep = np.concatenate([training[ds.labels[training] != 1], training[ds.labels[training] == 1][:1],
                           np.flatnonzero(ds.usage != "Training")])
    with pytest.raises(SplitError, match="^split.strategy official: class disgust has a single one of the .* Training "
                                         "rows, too few to stratify"):
        official_split(ds.subset(keep), 0.1, 42)
    with pytest.raises(SplitError, match="^split.strategy study1: class disgust has a single one"):
        study1_split(ds.subset(np.concatenate([np.flatnonzero(ds.labels != 1), np.flatnonzero(ds.labels == 1)[:1]])))


def test_too_few_rows_for_a_validation_row_per_class_is_a_one_line_error() -> None:
    ds = make_dataset()
    with pytest.raises(SplitError, match="split 0.01 leave fewer rows on a side than the 7 classes"):
        official_split(ds, 0.01, 42)


def test_official_split_without_test_rows_is_an_error() -> None:
    ds = make_dataset(usage_shares=(1.0, 0.0, 0.0))
    with pytest.raises(SplitError, match="'official' needs Training and test"):
        official_split(ds, 0.1, 42)


def test_split_error_is_a_pipeline_error() -> None:
    assert issubclass(SplitError, PipelineError)


# --- challenge ------------------------------------------------------------------------------------


def test_challenge_split_follows_usage_exactly(ds) -> None:
    split = challenge_split(ds)
    assert np.array_equal(split.train, np.flatnonzero(ds.usage == "Training"))
    assert np.array_equal(split.val, np.flatnonzero(ds.usage == "PublicTest"))
    assert np.array_equal(split.test, np.flatnonzero(ds.usage == "PrivateTest"))
    assert not split.test_is_validation
    official = official_split(ds, 0.1, 42)
    assert len(split.train) == len(official.train) + len(official.val)  # every Training face trains


def test_challenge_split_is_what_make_split_gives(ds) -> None:
    made = make_split(ds, "challenge", 0.1, 42)
    assert np.array_equal(made.val, challenge_split(ds).val)
    assert np.array_equal(make_split(ds, "challenge", 0.3, 7).train, made.train)  # val_fraction and seed unused


@pytest.mark.parametrize("shares, missing", [((0.9, 0.1, 0.0), "PrivateTest"), ((0.9, 0.0, 0.1), "PublicTest"),
                                             ((0.0, 0.5, 0.5), "Training")])
def test_challenge_split_names_the_missing_usage(shares, missing) -> None:
    with pytest.raises(SplitError, match=f"'challenge' needs .*no {missing} rows"):
        challenge_split(make_dataset(usage_shares=shares))


# --- seed -----------------------------------------------------------------------------------------


def test_study1_split_is_80_20_and_stratified(ds) -> None:
    split = study1_split(ds, 0.2, 42)
    n = len(ds)
    assert len(split.val) == int(np.ceil(0.2 * n)) and len(split.train) == n - len(split.val)
    assert set(split.train.tolist()) | set(split.val.tolist()) == set(range(n))
    assert not set(split.train.tolist()) & set(split.val.tolist())
    counts = np.bincount(ds.labels, minlength=NUM_CLASSES)
    assert np.all(np.abs(np.bincount(ds.labels[split.val], minlength=NUM_CLASSES) - 0.2 * counts) <= 1)
    assert split.test_is_validation and np.array_equal(split.test, split.val)


def test_study1_split_equals_the_first_study_call(ds) -> None:
    split = study1_split(ds, 0.2, 42)
    labels = ds.labels
    n = len(labels)
    train, val = train_test_split(np.arange(n), test_size=0.2, shuffle=True, random_state=42,
                                  stratify=np.eye(7)[labels])
    assert np.array_equal(split.train, train) and np.array_equal(split.val, val)


def test_study1_split_differs_from_stratifying_on_integer_labels(ds) -> None:
    """Same class counts as an integer stratification, different rows: one-hot reorders the classes."""
    split = study1_split(ds, 0.2, 42)
    train, val = train_test_split(np.arange(len(ds)), test_size=0.2, shuffle=True, random_state=42,
                                  stratify=ds.labels)
    assert np.array_equal(np.bincount(ds.labels[split.val], minlength=NUM_CLASSES),
                          np.bincount(ds.labels[val], minlength=NUM_CLASSES))
    assert not np.array_equal(np.sort(split.val), np.sort(val))


def test_study1_split_ignores_usage(ds) -> None:
    split = study1_split(ds, 0.2, 42)
    assert {"Training", "PublicTest", "PrivateTest"} <= set(ds.usage[split.val].tolist())


# --- make_split -----------------------------------------------------------------------------------


def test_make_split_dispatches(ds) -> None:
    assert np.array_equal(make_split(ds, "official", 0.1, 42).val, official_split(ds, 0.1, 42).val)
    study1 = make_split(ds, "study1", 0.5, 42)  # val_fraction does not apply to the study's fixed 80/20
    assert np.array_equal(study1.val, study1_split(ds, 0.2, 42).val)


def test_unknown_strategy(ds) -> None:
    with pytest.raises(SplitError, match="unknown split strategy 'random'"):
        make_split(ds, "random", 0.1, 42)
