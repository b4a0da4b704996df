"""The shipped model's card, re-scored: its test figures on the real FER2013 test rows."""

from __future__ import annotations

import pytest

pytest.importorskip("keras")

from facial_emotion import pretrained  # noqa: E402
from facial_emotion.pretrained.build import score_test_rows, sha256_file  # noqa: E402

pytestmark = pytest.mark.data


def test_the_cards_test_figures_are_the_models(fer2013_path):
    card = pretrained.card()
    if sha256_file(fer2013_path) != card["data_sha256"]:
        pytest.skip(f"{fer2013_path} is not the FER2013 file the card was scored on ({card['data_sha256'][:12]}...)")
    scores = score_test_rows(pretrained.MODEL_FILE, fer2013_path)
    for split in ("test", "PublicTest", "PrivateTest"):
        assert scores[split]["rows"] == card["scores"][split]["rows"]
        for key in ("accuracy", "macro_f1", "balanced_accuracy"):
            # float32 inference may round differently on another CPU: a face or two at most
            assert scores[split][key] == pytest.approx(card["scores"][split][key], abs=0.0015), (split, key)
