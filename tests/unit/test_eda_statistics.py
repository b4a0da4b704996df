"""EDA numbers: chunked statistics equal the plain numpy ones; stale summaries are caught."""

from __future__ import annotations

import numpy as np
import pytest

from facial_emotion.data.dataset import FaceDataset
from facial_emotion.eda import figures, statistics
from facial_emotion.labels import EMOTIONS, NUM_CLASSES
from facial_emotion.notebooks import figure_png


@pytest.fixture
def faces() -> FaceDataset:
    rng = np.random.default_rng(0)
    n = 300
    labels = np.concatenate([np.arange(NUM_CLASSES), rng.integers(0, NUM_CLASSES, n - NUM_CLASSES)]).astype(np.int64)
    usage = np.where(np.arange(n) < 240, "Training", np.where(np.arange(n) < 270, "PublicTest", "PrivateTest"))
    images = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    return FaceDataset(images, labels, usage, np.arange(n), source="csv", sha256="f" * 64)


def summary_for(ds: FaceDataset, **extra) -> dict:
    return {"sha256": ds.sha256, "rows": len(ds), "blank_images": {"count": 0, "indices": []},
            "duplicate_images": {"groups": 0, "extra_copies": 0, "examples": []}, **extra}


def test_class_counts_per_usage_add_up(faces):
    table = statistics.class_counts(faces.labels, faces.usage)
    assert list(table.index) == list(EMOTIONS)
    assert table["total"].tolist() == np.bincount(faces.labels, minlength=NUM_CLASSES).tolist()
    assert table["Training"].sum() == 240 and table["PrivateTest"].sum() == 30
    assert table["share %"].sum() == pytest.approx(100, abs=0.5)


def test_imbalance_ratio():
    assert statistics.imbalance_ratio(np.array([10, 2, 5])) == 5.0
    assert statistics.imbalance_ratio(np.array([10, 0, 5])) is None


def test_chunked_pixel_statistics_match_numpy(faces):
    stats = statistics.pixel_statistics(faces.images, faces.labels, chunk=64)  # several chunks, ragged end
    flat = faces.images.reshape(len(faces), -1).astype(np.float64)
    np.testing.assert_allclose(stats.image_mean, flat.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(stats.image_std, flat.std(axis=1), rtol=1e-4)
    assert stats.mean == pytest.approx(flat.mean()) and stats.std == pytest.approx(flat.std())
    for c in range(NUM_CLASSES):
        expected = np.bincount(faces.images[faces.labels == c].ravel(), minlength=256)
        np.testing.assert_array_equal(stats.histogram[c], expected)
    table = stats.per_class_table(faces.labels)
    assert table.loc["all", "images"] == len(faces)


def test_mean_faces_and_samples(faces):
    means = statistics.mean_faces(faces.images, faces.labels)
    np.testing.assert_allclose(means[2], faces.images[faces.labels == 2].mean(axis=0))
    picks = statistics.sample_indices(faces.labels, 5, seed=1)
    assert all((faces.labels[p] == c).all() and len(set(p.tolist())) == len(p) for c, p in enumerate(picks))
    assert all(np.array_equal(a, b) for a, b in zip(picks, statistics.sample_indices(faces.labels, 5, seed=1)))


def test_stale_summary_is_a_one_line_error(faces):
    statistics.check_matches_summary(faces, summary_for(faces), "faces.npz", "summary.json")
    with pytest.raises(statistics.EdaError, match=r"summary.json: sha256 .* does not match faces.npz"):
        statistics.check_matches_summary(faces, summary_for(faces, sha256="0" * 64), "faces.npz", "summary.json")
    with pytest.raises(statistics.EdaError, match=r"image index 999 is outside faces.npz"):
        statistics.check_matches_summary(faces, summary_for(faces, blank_images={"count": 1, "indices": [999]}),
                                         "faces.npz", "summary.json")


def test_figures_summary_is_flat(faces):
    stats = statistics.pixel_statistics(faces.images, faces.labels)
    result = statistics.figures_summary(faces, summary_for(faces), stats, "run123")
    assert all(not isinstance(v, (dict, list)) for v in result.values())
    assert result["count_anger"] == int((faces.labels == 0).sum()) and result["rows"] == len(faces)
    assert result["synthetic"] is False and result["mlflow_run_id"] == "run123"


def test_figures_render(faces):
    stats = statistics.pixel_statistics(faces.images, faces.labels)
    table = statistics.class_counts(faces.labels, faces.usage)
    picks = statistics.sample_indices(faces.labels, 3, seed=0)
    for fig in (figures.class_balance(table), figures.sample_grid(faces.images, picks, 3),
                figures.mean_faces(statistics.mean_faces(faces.images, faces.labels), faces.images.mean(axis=0)),
                figures.pixel_intensity(stats, faces.labels),
                figures.duplicate_groups(faces.images, [[0, 1, 2], [3, 4]], faces.labels, faces.usage)):
        assert figure_png(fig).startswith(b"\x89PNG")
