"""Choosing the input, and the ingest summary: counts, rejected rows, blank and duplicate images."""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from facial_emotion.data.dataset import FaceDataset, IngestError
from facial_emotion.data.discover import discover
from facial_emotion.data.ingest import (
    IngestResult,
    blank_images,
    duplicate_groups,
    ingest,
    summarise,
)
from facial_emotion.data.synthetic import generate_faces, write_fer_csv
from facial_emotion.labels import EMOTIONS, IMAGE_SIZE, USAGES
from facial_emotion.tracking import SYNTHETIC_WARNING


def distinct_images(n: int, seed: int = 0) -> np.ndarray:
    images = np.random.default_rng(seed).integers(0, 256, size=(n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) % 256  # never two alike
    images[:, 0, 1] = np.arange(n) // 256
    return images


def dataset(images: np.ndarray, labels, usage, rejected: Counter | None = None) -> FaceDataset:
    return FaceDataset(images=images, labels=np.asarray(labels, dtype=np.int64), usage=np.asarray(usage),
                       rows=np.arange(len(images)), rejected=rejected or Counter())


def result(ds: FaceDataset, source: str = "csv") -> IngestResult:
    return IngestResult(ds, source, "data/raw/fer2013.csv", "0" * 64)


# --- discover(...).kind: what ingest reads ---------------------------------------------------------


def test_empty_raw_dir_auto_is_synthetic(tmp_path) -> None:
    assert discover(tmp_path, "auto").kind == "synthetic"


def test_empty_raw_dir_csv_is_an_error(tmp_path) -> None:
    with pytest.raises(IngestError, match=f"^{tmp_path}: data.source is 'csv' but there is no FER2013 CSV here. "
                                          "Found: nothing. Understood: "):
        discover(tmp_path, "csv")


def test_empty_raw_dir_folders_is_an_error(tmp_path) -> None:
    with pytest.raises(IngestError,
                       match=f"^{tmp_path}: data.source is 'folders' but there are no FER2013 image folders here"):
        discover(tmp_path, "folders")


def test_unknown_source_is_an_error(tmp_path) -> None:
    with pytest.raises(IngestError, match="data.source: must be one of auto, csv, folders, synthetic, not 'kaggle'"):
        discover(tmp_path, "kaggle")


def test_explicit_synthetic_wins_over_present_data(tmp_path) -> None:
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    assert discover(tmp_path, "synthetic").kind == "synthetic"


@pytest.mark.parametrize("name", ["fer2013.csv", "fer2013.csv.gz"])
def test_csv_is_preferred_over_folders(tmp_path, name: str) -> None:
    header = b"emotion,pixels,Usage\n"
    (tmp_path / name).write_bytes(gzip.compress(header) if name.endswith(".gz") else header)
    (tmp_path / "train" / "happy").mkdir(parents=True)
    assert discover(tmp_path, "auto").kind == "csv"
    assert discover(tmp_path, "folders").kind == "folders"


def test_folders_without_csv(tmp_path) -> None:
    (tmp_path / "test" / "happy").mkdir(parents=True)
    assert discover(tmp_path, "auto").kind == "folders"
    with pytest.raises(IngestError, match="'csv'"):
        discover(tmp_path, "csv")


# --- ingest ---------------------------------------------------------------------------------------


def test_ingest_csv_tags_the_dataset_with_source_and_hash(tmp_path) -> None:
    images, labels, usage = generate_faces(70, seed=1)
    write_fer_csv(tmp_path / "fer2013.csv", images, labels, usage)
    out = ingest(tmp_path, "auto", "error", 70, 0)
    assert out.source == "csv" and out.input_path == str(tmp_path / "fer2013.csv")
    assert out.sha256 == hashlib.sha256((tmp_path / "fer2013.csv").read_bytes()).hexdigest()
    assert out.dataset.source == "csv" and out.dataset.sha256 == out.sha256 and not out.dataset.is_synthetic
    assert np.array_equal(out.dataset.images, images) and np.array_equal(out.dataset.labels, labels)


def test_ingest_folders(tmp_path) -> None:
    for name, value in (("Happy", 10), ("Sad", 200)):
        (tmp_path / "train" / name).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "train" / name / "0.png"), np.full((48, 48), value, dtype=np.uint8))
    out = ingest(tmp_path, "auto", "error", 70, 0)
    assert out.source == "folders" and out.dataset.source == "folders"
    assert out.dataset.labels.tolist() == [EMOTIONS.index("happiness"), EMOTIONS.index("sadness")]


def test_synthetic_ingest_is_deterministic_and_its_summary_carries_the_warning(tmp_path, caplog) -> None:
    out = ingest(tmp_path, "auto", "error", 70, 3)
    again = ingest(tmp_path, "auto", "error", 70, 3)
    assert out.source == "synthetic" and out.dataset.is_synthetic and out.sha256 == again.sha256
    assert len(out.dataset) == 70 and np.array_equal(out.dataset.images, again.dataset.images)
    assert "SYNTHETIC" in caplog.text
    summary = summarise(out, 1.0)
    assert summary["synthetic"] is True and summary["source"] == "synthetic"
    assert summary["warning"] == SYNTHETIC_WARNING
    assert any("SYNTHETIC" in note for note in summary["notes"])
    assert list(tmp_path.iterdir()) == [], "synthetic ingest must not write into data/raw/"


def test_real_data_summary_has_no_warning(tmp_path) -> None:
    images = distinct_images(3)
    summary = summarise(result(dataset(images, [0, 1, 2], ["Training"] * 3)), 1.0)
    assert summary["synthetic"] is False and "warning" not in summary


# --- summarise ------------------------------------------------------------------------------------


def test_summary_counts_by_class_usage_and_both() -> None:
    labels = [0, 0, 3, 3, 3, 1, 6, 6]
    usage = ["Training", "Training", "Training", "PublicTest", "PrivateTest", "Training", "PublicTest", "Training"]
    ds = dataset(distinct_images(8), labels, usage, Counter({"emotion": 2, "pixel_count": 1}))
    summary = summarise(result(ds), 1.0)
    assert summary["rows"] == 8
    assert summary["by_class"] == {"anger": 2, "disgust": 1, "fear": 0, "happiness": 3, "sadness": 0,
                                   "surprise": 0, "neutral": 2}
    assert summary["by_usage"] == {"Training": 5, "PublicTest": 2, "PrivateTest": 1}
    assert summary["by_usage_and_class"]["Training"]["anger"] == 2
    assert summary["by_usage_and_class"]["PublicTest"] == dict.fromkeys(EMOTIONS, 0) | {"happiness": 1, "neutral": 1}
    assert summary["by_usage_and_class"]["PrivateTest"]["happiness"] == 1
    assert sum(sum(c.values()) for c in summary["by_usage_and_class"].values()) == 8
    assert list(summary["by_usage"]) == list(USAGES) and list(summary["by_class"]) == list(EMOTIONS)
    assert summary["rejected"] == {"emotion": 2, "pixel_count": 1} and summary["rejected_total"] == 3
    assert summary["source"] == "csv" and summary["sha256"] == "0" * 64
    assert summary["blank_images"]["count"] == 0 and summary["duplicate_images"]["groups"] == 0


def test_summary_reports_blank_images_and_duplicates_with_conflicting_labels_across_usages() -> None:
    images = distinct_images(6)
    images[1] = 0  # all black
    images[4] = 128  # flat gray
    images[5] = images[2]  # a copy of image 2, with another label, in another usage
    ds = dataset(images, [0, 1, 2, 3, 4, 5], ["Training"] * 5 + ["PrivateTest"])
    summary = summarise(result(ds), 1.0)
    assert summary["blank_images"]["count"] == 2 and summary["blank_images"]["indices"] == [1, 4]
    assert "1.0" in summary["blank_images"]["rule"]
    dup = summary["duplicate_images"]
    assert dup["groups"] == 1 and dup["extra_copies"] == 1
    assert dup["groups_with_conflicting_labels"] == 1 and dup["groups_across_usages"] == 1
    assert dup["examples"] == [[2, 5]]


def test_identical_images_with_the_same_label_and_usage_do_not_conflict() -> None:
    images = distinct_images(4)
    images[3] = images[0]
    ds = dataset(images, [2, 1, 0, 2], ["PublicTest"] * 4)
    dup = summarise(result(ds), 1.0)["duplicate_images"]
    assert dup["groups"] == 1 and dup["groups_with_conflicting_labels"] == 0 and dup["groups_across_usages"] == 0


# --- blank_images / duplicate_groups --------------------------------------------------------------


def test_blank_images_threshold_is_inclusive() -> None:
    images = np.full((3, IMAGE_SIZE, IMAGE_SIZE), 100, dtype=np.uint8)
    images[1, :24] = 102  # std exactly 1.0
    images[2, :24] = 103  # std 1.5
    assert blank_images(images, 1.0).tolist() == [0, 1]
    assert blank_images(images, 0.0).tolist() == [0]


def test_duplicate_groups_largest_first_then_by_first_index() -> None:
    images = distinct_images(9)
    images[[3, 7]] = images[1]  # group of 3: [1, 3, 7]
    images[8] = images[0]  # group of 2: [0, 8]
    images[6] = images[5]  # group of 2: [5, 6]
    groups = duplicate_groups(images)
    assert [g.tolist() for g in groups] == [[1, 3, 7], [0, 8], [5, 6]]


def test_no_duplicates_gives_no_groups() -> None:
    assert duplicate_groups(distinct_images(5)) == []


def test_many_duplicate_groups_use_the_fast_path_with_the_same_answer() -> None:
    pairs = 70  # more than 64 groups switch to the searchsorted path
    originals = distinct_images(pairs, seed=5)
    images = np.concatenate([originals, originals[::-1]])
    groups = duplicate_groups(images)
    assert len(groups) == pairs
    expected = sorted([[i, 2 * pairs - 1 - i] for i in range(pairs)])
    assert [g.tolist() for g in groups] == expected


def test_summary_of_a_saved_and_loaded_dataset(tmp_path: Path) -> None:
    ds = dataset(distinct_images(4), [0, 1, 2, 3], ["Training", "Training", "PublicTest", "PrivateTest"])
    ds.source, ds.sha256 = "csv", "a" * 64
    ds.save(tmp_path / "faces.npz")
    loaded = FaceDataset.load(tmp_path / "faces.npz")
    assert loaded.source == "csv" and loaded.sha256 == "a" * 64
    assert summarise(result(loaded), 1.0)["by_usage"] == summarise(result(ds), 1.0)["by_usage"]
