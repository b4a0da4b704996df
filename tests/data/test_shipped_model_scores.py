"""The shipped models' cards, re-scored: their test figures on the real FER2013 test rows, against
FER2013's labels and FER+'s majority."""

from __future__ import annotations

import pytest

pytest.importorskip("keras")

from facial_emotion import pretrained  # noqa: E402
from facial_emotion.pretrained.build import score_test_rows, sha256_file  # noqa: E402

pytestmark = pytest.mark.data


@pytest.mark.parametrize("which", sorted(pretrained.SHIPPED))
def test_the_cards_test_figures_are_the_models(which, fer2013_path, ferplus_path):
    shipped = pretrained.SHIPPED[which]
    card = shipped.card()
    if sha256_file(fer2013_path) != card["data_sha256"]:
        pytest.skip(f"{fer2013_path} is not the FER2013 file the card was scored on ({card['data_sha256'][:12]}...)")
    test_usages = tuple(card["test_rows"].split(" + "))
    scores = score_test_rows(shipped.keras_file, fer2013_path, ferplus_path, test_usages)
    own, other = card["labels"], next(s for s in scores if s != card["labels"])
    for label_set, figures in ((own, card["scores"]), (other, card[f"scores_{other}"])):
        for split in ("test", "PublicTest", "PrivateTest"):
            assert scores[label_set][split]["rows"] == figures[split]["rows"], (label_set, split)
            for key in ("accuracy", "macro_f1", "balanced_accuracy"):
                # float32 inference may round differently on another CPU: a face or two at most
                assert scores[label_set][split][key] == pytest.approx(figures[split][key], abs=0.0015), \
                    (label_set, split, key)
