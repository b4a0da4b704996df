"""FER+'s real vote file matches the real FER2013 row for row, through the ingest stage's own code,
and its majority labels come out as the FER+ repository's per-split files say.

Needs ../shared/data/fer2013/fer2013.csv.gz and ../shared/data/ferplus/fer2013new.csv (or
FER2013_PATH and FERPLUS_PATH); skipped with the reason otherwise.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from facial_emotion.data import ferplus
from facial_emotion.data.ingest import ingest
from facial_emotion.data.label_sets import label_sets
from facial_emotion.labels import FERPLUS_EMOTIONS

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def dataset(fer2013_path, ferplus_path, tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    (raw / fer2013_path.name).symlink_to(fer2013_path)
    shutil.copy(ferplus_path, raw / "fer2013new.csv")
    return ingest(raw, "auto", "error", 100, 0, labels_source="ferplus").dataset


def test_every_row_has_its_votes(dataset):
    assert len(dataset) == 35887 and dataset.votes.shape == (35887, 10)
    totals = dataset.votes.astype(int).sum(axis=1)
    assert totals.max() == 10 and (totals == 10).sum() == 35886  # one face has nine votes in Microsoft's file


def test_the_majority_rule_on_the_real_test_split(dataset):
    private = dataset.subset(np.flatnonzero(dataset.usage == "PrivateTest"))
    test = label_sets(private)["ferplus"]
    assert len(test.index) == 3376
    assert test.left_out == {ferplus.NO_MAJORITY_TIE: 170, ferplus.NO_MAJORITY_UNKNOWN: 43}
    counts = np.bincount(test.labels, minlength=len(FERPLUS_EMOTIONS))
    assert counts.tolist() == [316, 22, 92, 909, 424, 421, 1166, 26]


def test_a_vote_file_for_another_copy_is_refused_naming_the_line(fer2013_path, ferplus_path, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / fer2013_path.name).symlink_to(fer2013_path)
    lines = ferplus_path.read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace("Training", "PublicTest", 1)
    (raw / "fer2013new.csv").write_text("".join(lines))
    with pytest.raises(ferplus.IngestError, match=r"fer2013new.csv: line 6: Usage 'PublicTest' but"):
        ingest(raw, "auto", "error", 100, 0, labels_source="ferplus")
