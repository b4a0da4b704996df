"""benchmarks/peers.py on the real FER2013 test rows: it scores the shipped model exactly as its card
says (tests/data/test_shipped_model_scores.py checks the card by the card's own scorer; this checks
the benchmark's path: its rows, label sets and class alignment), and FER+'s rows add up."""

from __future__ import annotations


import pytest

pytest.importorskip("keras")

from benchmarks import peers  # noqa: E402
from benchmarks.common import ferplus_path  # noqa: E402
from facial_emotion import pretrained  # noqa: E402
from facial_emotion.pretrained.build import sha256_file  # noqa: E402

# slow: the card itself is re-scored in the fast tier (test_shipped_model_scores.py)
pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_the_benchmark_scores_the_shipped_model_as_its_card_says(fer2013_path):
    shipped = pretrained.SHIPPED["fer2013"]  # the card scored on FER2013's labels and official test rows
    card = shipped.card()
    if sha256_file(fer2013_path) != card["data_sha256"]:
        pytest.skip(f"{fer2013_path} is not the FER2013 file the card was scored on ({card['data_sha256'][:12]}...)")
    ferplus = ferplus_path()  # FERPLUS_PATH, else ../shared/data/ferplus/fer2013new.csv
    test = peers.read_test_faces(fer2013_path, ferplus if ferplus.is_file() else None)
    tables = peers.score_tables(test, [peers.predict_ours(shipped.keras_file, test.images)], replicates=100)
    name = shipped.keras_file.stem
    for split, card_split in (("test", "test"), ("PrivateTest", "PrivateTest")):
        ours = tables["fer2013"][split]["models"][name]
        assert ours["rows"] == card["scores"][card_split]["rows"]
        assert round(ours["accuracy"], 3) == round(card["scores"][card_split]["accuracy"], 3), split
        assert round(ours["macro_f1"], 3) == round(card["scores"][card_split]["macro_f1"], 3), split
    if not ferplus.is_file():
        pytest.skip(f"FER+ votes not found at {ferplus}: only the FER2013 labels were checked")
    for split, usages in peers.SPLITS.items():
        table = tables["ferplus"][split]
        assert table["rows"] + sum(table["left_out"].values()) == sum(card["scores"][u]["rows"] for u in usages)
