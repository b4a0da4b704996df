"""FER+'s vote file: its checks against the FER2013 file, the majority rule, the training targets,
and scoring every model on both label sets (7- and 8-class models side by side). Generated files only."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from facial_emotion.data import ferplus
from facial_emotion.data.dataset import FaceDataset, IngestError
from facial_emotion.data.ingest import ingest
from facial_emotion.data.label_sets import label_sets, training_targets
from facial_emotion.data.synthetic import generate_fer_csv
from facial_emotion.evaluation.label_scores import align, by_label_set
from facial_emotion.evaluation.scoring import score
from facial_emotion.labels import EMOTIONS, FERPLUS_EMOTIONS, class_names
from facial_emotion.params.data import LabelsSection

HEADER = ["Usage", "Image name", *ferplus.FILE_COLUMNS]


def write_votes(path: Path, usages: list[str], votes: np.ndarray | None = None, rows: list[list[str]] | None = None):
    """A fer2013new.csv with the file's own column order; `votes` in this package's order."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        if rows is not None:
            writer.writerows(rows)
            return
        to_file = [ferplus.VOTE_COLUMNS.index(name) for name in ferplus.FILE_COLUMNS]
        for i, usage in enumerate(usages):
            writer.writerow([usage, f"fer{i:07d}.png", *[int(v) for v in votes[i, to_file]]])


@pytest.fixture
def raw(tmp_path: Path) -> tuple[Path, list[str], np.ndarray]:
    """data/raw/ with a generated FER2013 CSV of 80 rows and votes agreeing with its labels."""
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    generate_fer_csv(raw_dir / "fer2013.csv", 80, 3)
    with (raw_dir / "fer2013.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    usages, labels = [r["Usage"] for r in rows], np.array([int(r["emotion"]) for r in rows])
    votes = np.zeros((80, 10), dtype=np.uint8)
    votes[np.arange(80), labels] = 8
    votes[:, 6] += 2  # two votes for neutral on every face
    votes[0] = 0
    votes[0, 7] = 10  # a contempt face
    votes[1] = 0
    votes[1, 9] = 10  # not a face
    return raw_dir, usages, votes


def test_the_votes_are_read_in_the_package_order_and_follow_fer2013_row_for_row(raw) -> None:
    raw_dir, usages, votes = raw
    write_votes(raw_dir / "fer2013new.csv", usages, votes)
    result = ingest(raw_dir, "auto", "error", 100, 0, labels_source="ferplus")
    assert result.dataset.votes.shape == (80, 10)
    assert np.array_equal(result.dataset.votes, votes)
    labels, reasons = ferplus.majority(result.dataset.votes)
    assert labels[0] == FERPLUS_EMOTIONS.index("contempt") and labels[1] == -1
    assert reasons == {ferplus.NO_MAJORITY_UNKNOWN: 1}


@pytest.mark.parametrize("problem, says", [
    ("short", "79 vote rows, but"),
    ("usage", "line 5: Usage"),
    ("count", "line 4: vote counts must be 0-10"),
    ("too_many", "line 4: vote counts must be 0-10 with at most 10 in all"),
    ("text", "line 4: vote counts must be whole numbers"),
    ("header", "line 1: expected FER+'s header"),
])
def test_a_bad_vote_file_is_one_line_naming_the_line(raw, problem, says) -> None:
    raw_dir, usages, votes = raw
    path = raw_dir / "fer2013new.csv"
    to_file = [ferplus.VOTE_COLUMNS.index(name) for name in ferplus.FILE_COLUMNS]
    rows = [[u, "x.png", *[str(int(v)) for v in votes[i, to_file]]] for i, u in enumerate(usages)]
    if problem == "short":
        rows = rows[:-1]
    elif problem == "usage":
        rows[3][0] = "PublicTest" if rows[3][0] != "PublicTest" else "Training"
    elif problem == "count":
        rows[2][2] = "11"
    elif problem == "too_many":
        rows[2][2:4] = ["6", "6"]
    elif problem == "text":
        rows[2][3] = "three"
    write_votes(path, usages, rows=rows)
    if problem == "header":
        path.write_text(path.read_text().replace("contempt", "scorn"))
    with pytest.raises(IngestError) as err:
        ingest(raw_dir, "auto", "error", 100, 0, labels_source="ferplus")
    message = str(err.value)
    assert says in message and "\n" not in message and "fer2013new.csv" in message


def test_ferplus_without_the_vote_file_says_where_to_get_it(raw) -> None:
    raw_dir, _, _ = raw
    with pytest.raises(IngestError, match="no fer2013new.csv here.*microsoft/FERPlus"):
        ingest(raw_dir, "auto", "error", 100, 0, labels_source="ferplus")
    assert ingest(raw_dir, "auto", "error", 100, 0).dataset.votes is None  # FER2013 labels need no votes


def test_synthetic_faces_get_synthetic_votes_with_both_label_sets() -> None:
    result = ingest(Path("/nonexistent-raw"), "synthetic", "error", 300, 5, labels_source="ferplus")
    sets = label_sets(result.dataset)
    assert set(sets) == {"fer2013", "ferplus"} and sets["ferplus"].classes == FERPLUS_EMOTIONS
    assert 0.7 < len(sets["ferplus"].index) / 300 <= 1


def test_the_majority_rule_leaves_out_ties_and_unknown_faces_and_counts_them() -> None:
    votes = np.zeros((5, 10), dtype=np.uint8)
    votes[0, [3, 6]] = 6, 4  # happiness
    votes[1, [3, 6]] = 5, 5  # tie: no label
    votes[2, [8, 3]] = 6, 4  # unknown wins: no label
    votes[3, [7, 1]] = 7, 3  # contempt
    votes[4, [9, 0]] = 5, 5  # tie with not-a-face: no label
    labels, reasons = ferplus.majority(votes)
    assert labels.tolist() == [3, -1, -1, 7, -1]
    assert reasons == {ferplus.NO_MAJORITY_TIE: 2, ferplus.NO_MAJORITY_UNKNOWN: 1}
    # distribution training keeps the emotion tie, never a face whose top is unknown or not-a-face
    assert ferplus.trainable(votes, "distribution").tolist() == [True, True, False, True, False]
    assert ferplus.trainable(votes, "majority").tolist() == [True, False, False, True, False]


def test_each_training_mode_targets_what_the_paper_says() -> None:
    votes = np.zeros((3, 10), dtype=np.uint8)
    votes[0, [3, 6]] = 6, 4
    votes[1, [5, 2]] = 5, 5
    votes[2, 9] = 10
    faces = FaceDataset(images=np.zeros((3, 48, 48), np.uint8), labels=np.array([3, 5, 6]),
                        usage=np.array(["Training"] * 3), rows=np.arange(3), votes=votes)
    soft = training_targets(faces, labels_section("ferplus", "distribution"), "test")
    assert soft.index.tolist() == [0, 1] and soft.left_out == 1 and soft.classes == FERPLUS_EMOTIONS
    assert np.allclose(soft.y[0], [0, 0, 0, 0.6, 0, 0, 0.4, 0]) and np.allclose(soft.y[1, [2, 5]], [0.5, 0.5])
    hard = training_targets(faces, labels_section("ferplus", "majority"), "test")
    assert hard.index.tolist() == [0] and hard.y.tolist() == [3]
    plain = training_targets(faces, labels_section("fer2013", "distribution"), "test")
    assert plain.classes == EMOTIONS and plain.y.tolist() == [3, 5, 6]


def labels_section(source: str, target: str = "distribution", mix: float = 0.0) -> LabelsSection:
    return LabelsSection(source=source, ferplus_target=target, ferplus_mix=mix)


def test_the_second_target_blends_the_fer2013_label_with_the_votes() -> None:
    votes = np.zeros((4, 10), dtype=np.uint8)
    votes[0, [3, 6]] = 6, 4       # happiness 6, neutral 4
    votes[1, [5, 2, 9]] = 4, 4, 2  # not-a-face votes left out of the shares
    votes[2, 7] = 10              # contempt only: none of the seven, the label alone
    votes[3, 0] = 10              # the votes disagree with the label
    faces = FaceDataset(images=np.zeros((4, 48, 48), np.uint8), labels=np.array([3, 5, 6, 4]),
                        usage=np.array(["Training"] * 4), rows=np.arange(4), votes=votes)
    mixed = training_targets(faces, labels_section("fer2013", mix=0.5), "test")
    assert mixed.classes == EMOTIONS and mixed.y.shape == (4, 7) and mixed.y.dtype == np.float32
    assert np.allclose(mixed.y.sum(axis=1), 1)
    assert np.allclose(mixed.y[0], [0, 0, 0, 0.8, 0, 0, 0.2])
    assert np.allclose(mixed.y[1], [0, 0, 0.25, 0, 0, 0.75, 0])
    assert np.allclose(mixed.y[2], np.eye(7)[6])
    assert np.allclose(mixed.y[3], [0.5, 0, 0, 0, 0.5, 0, 0])
    # class weights, SMOTE and counts keep FER2013's label, even where the blend is a tie
    assert mixed.hard_labels.tolist() == [3, 5, 6, 4]
    votes_only = training_targets(faces, labels_section("fer2013", mix=1.0), "test")
    assert np.allclose(votes_only.y[3], np.eye(7)[0])


def test_the_second_target_needs_votes_and_fer2013_labels() -> None:
    faces = FaceDataset(images=np.zeros((2, 48, 48), np.uint8), labels=np.array([3, 5]),
                        usage=np.array(["Training"] * 2), rows=np.arange(2))
    with pytest.raises(IngestError, match=r"^train: labels.ferplus_mix is 0.3 but the data has no FER\+ votes"):
        training_targets(faces, labels_section("fer2013", mix=0.3), "train")
    with pytest.raises(ValueError, match="needs labels.source fer2013"):
        labels_section("ferplus", mix=0.3)


def test_class_names_follow_the_model_output_size() -> None:
    assert class_names(7) == EMOTIONS and class_names(8) == FERPLUS_EMOTIONS
    with pytest.raises(ValueError, match="expected 7 .* or 8"):
        class_names(5)


def test_seven_and_eight_class_models_are_scored_on_both_label_sets() -> None:
    rng = np.random.default_rng(0)
    n = 40
    labels = rng.integers(0, 7, n)
    votes = np.zeros((n, 10), dtype=np.uint8)
    votes[np.arange(n), labels] = 7
    votes[:5, :] = 0
    votes[:5, 7] = 10  # five contempt faces under FER+
    faces = FaceDataset(images=np.zeros((n, 48, 48), np.uint8), labels=labels, usage=np.array(["PublicTest"] * n),
                        rows=np.arange(n), votes=votes)
    perfect8 = np.eye(8)[ferplus.majority(votes)[0]]
    seven = np.eye(7)[labels]
    s8 = score(perfect8, faces, perfect8, faces, "ferplus")
    s7 = score(seven, faces, seven, faces, "fer2013")
    assert s8["test"]["accuracy"] == 1.0 and s8["test"]["rows"] == n and "f1_contempt" in s8["test"]
    assert s7["test"]["accuracy"] == 1.0 and "f1_contempt" not in s7["test"]
    # the 7-class model can never say contempt: those five faces are mistakes on FER+ labels
    assert s7["test_ferplus"]["accuracy"] == pytest.approx((n - 5) / n)
    # the 8-class model on FER2013's labels by its seven shared classes
    assert s8["test_fer2013"]["rows"] == n
    assert by_label_set(s7, "fer2013").keys() == {"fer2013", "ferplus"}
    assert align(np.array([[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3]]), EMOTIONS).sum() == pytest.approx(1.0)
