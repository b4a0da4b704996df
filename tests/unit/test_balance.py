"""Rebalancing: scikit-learn's balanced weights, SMOTE back to uint8 faces, and mirrored flips."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight
from threadpoolctl import threadpool_limits

from facial_emotion.data.balance import BalanceError, add_flips, balanced_class_weights, class_indices, smote
from facial_emotion.errors import PipelineError
from facial_emotion.labels import EMOTIONS, IMAGE_SIZE, NUM_CLASSES

DISGUST = EMOTIONS.index("disgust")


@pytest.fixture(autouse=True)
def one_thread():
    """SMOTE's neighbour search on a few dozen faces is 6x faster on one thread than on a busy shared box."""
    with threadpool_limits(1):
        yield


def faces(class_counts, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(class_counts)), class_counts)).astype(np.int64)
    images = rng.integers(0, 256, size=(len(labels), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    return images, labels


# --- class weights --------------------------------------------------------------------------------


def test_class_weights_equal_scikit_learn_balanced() -> None:
    labels = np.repeat(np.arange(NUM_CLASSES), [40, 4, 41, 72, 49, 32, 50])
    weights = balanced_class_weights(labels)
    expected = compute_class_weight("balanced", classes=np.arange(NUM_CLASSES), y=labels)
    assert list(weights) == list(range(NUM_CLASSES))
    assert np.allclose([weights[c] for c in range(NUM_CLASSES)], expected)
    assert weights[DISGUST] == pytest.approx(len(labels) / (NUM_CLASSES * 4))
    assert all(type(k) is int and type(v) is float for k, v in weights.items())


def test_class_weights_cover_only_present_classes() -> None:
    weights = balanced_class_weights(np.array([0, 0, 0, 3]))
    assert weights == {0: pytest.approx(4 / 6), 3: pytest.approx(2.0)}


# --- SMOTE ----------------------------------------------------------------------------------------


def test_smote_balances_every_class_to_the_largest_and_keeps_originals_first() -> None:
    counts = [12, 8, 10, 20, 9, 11, 14]
    images, labels = faces(counts)
    out, out_labels = smote(images, labels, k_neighbors=6, sampling_strategy="auto", seed=42)
    assert out.dtype == np.uint8 and out.shape == (NUM_CLASSES * max(counts), IMAGE_SIZE, IMAGE_SIZE)
    assert out_labels.dtype == np.int64
    assert np.bincount(out_labels).tolist() == [max(counts)] * NUM_CLASSES
    assert np.array_equal(out[: len(images)], images) and np.array_equal(out_labels[: len(labels)], labels)
    again, again_labels = smote(images, labels, k_neighbors=6, sampling_strategy="auto", seed=42)
    assert np.array_equal(out, again) and np.array_equal(out_labels, again_labels)


def test_smote_samples_lie_between_real_faces_of_their_class() -> None:
    images, labels = faces([8, 8, 7, 8, 8, 8, 8], seed=1)
    out, out_labels = smote(images, labels, k_neighbors=3, sampling_strategy="auto", seed=42)
    new = out[len(images):]
    assert len(new) == 1 and out_labels[-1] == 2
    fear = images[labels == 2].astype(int)
    assert np.all(new[0] >= fear.min(axis=0)) and np.all(new[0] <= fear.max(axis=0))


def test_smote_with_too_few_samples_names_the_class_and_count() -> None:
    images, labels = faces([10, 5, 10, 10, 10, 10, 10])
    with pytest.raises(BalanceError) as info:
        smote(images, labels, k_neighbors=6, sampling_strategy="auto", seed=42)
    message = str(info.value)
    assert "class 'disgust' has 5 training samples" in message and "k_neighbors=6" in message
    assert "\n" not in message and isinstance(info.value, PipelineError)


def test_smote_with_exactly_k_samples_is_still_too_few() -> None:
    images, labels = faces([10, 6, 10, 10, 10, 10, 10])
    with pytest.raises(BalanceError, match="'disgust' has 6"):
        smote(images, labels, k_neighbors=6, sampling_strategy="auto", seed=42)


def test_smote_reduce_k_lowers_the_neighbours_and_logs(caplog) -> None:
    images, labels = faces([10, 5, 10, 10, 10, 10, 10])
    with caplog.at_level(logging.WARNING, logger="facial_emotion.data.balance"):
        out, out_labels = smote(images, labels, k_neighbors=6, sampling_strategy="auto", seed=42, reduce_k=True)
    assert np.bincount(out_labels).tolist() == [10] * NUM_CLASSES and out.dtype == np.uint8
    assert "k_neighbors reduced from 6 to 4" in caplog.text and "'disgust'" in caplog.text


def test_smote_reduce_k_cannot_help_a_single_sample() -> None:
    images, labels = faces([10, 1, 10, 10, 10, 10, 10])
    with pytest.raises(BalanceError, match="'disgust' has 1 training samples"):
        smote(images, labels, k_neighbors=6, sampling_strategy="auto", seed=42, reduce_k=True)


# --- flips ----------------------------------------------------------------------------------------


def test_flips_add_exactly_the_listed_classes_mirrored() -> None:
    images, labels = faces([6, 3, 5, 9, 4, 2, 7])
    out, out_labels = add_flips(images, labels, [DISGUST, EMOTIONS.index("surprise")])
    assert len(out) == len(images) + 3 + 2 and out.dtype == np.uint8
    assert np.array_equal(out[: len(images)], images) and np.array_equal(out_labels[: len(labels)], labels)
    chosen = np.isin(labels, [DISGUST, EMOTIONS.index("surprise")])
    assert np.array_equal(out_labels[len(labels):], labels[chosen])
    assert np.array_equal(out[len(images):], images[chosen][:, :, ::-1])
    assert np.array_equal(out[len(images)][:, 0], images[chosen][0][:, -1])  # left column = old right column
    added = np.bincount(out_labels, minlength=NUM_CLASSES) - np.bincount(labels, minlength=NUM_CLASSES)
    assert added.tolist() == [0, 3, 0, 0, 0, 2, 0]


def test_flips_of_no_classes_change_nothing() -> None:
    images, labels = faces([2] * NUM_CLASSES)
    out, out_labels = add_flips(images, labels, [])
    assert np.array_equal(out, images) and np.array_equal(out_labels, labels)


def test_class_names_accept_aliases() -> None:
    assert class_indices(["disgust", "Angry", "HAPPY"]) == [DISGUST, 0, 3]


def test_unknown_class_name_is_an_error() -> None:
    with pytest.raises(BalanceError, match="balance.flip_classes: unknown class 'contempt'"):
        class_indices(["disgust", "contempt"])
