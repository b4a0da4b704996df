"""A model's scores on several label sets: which split key holds which set, and a model's
probabilities brought onto a label set's classes. Pure numpy: the report reads scores through it too."""

from __future__ import annotations

import numpy as np

from ..labels import LABEL_SOURCES

SPLITS = ("validation", "test", "test_private")


def align(probabilities: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """A model's probabilities over a label set's classes: columns the set lacks are dropped and the
    rest renormalised (an 8-class model on FER2013's 7); classes the model lacks get 0 (a 7-class
    model on FER+'s 8, where it can never say contempt)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape[1] == len(classes):
        return p
    if p.shape[1] > len(classes):
        kept = p[:, :len(classes)]
        return kept / np.clip(kept.sum(axis=1, keepdims=True), 1e-12, None)
    return np.pad(p, ((0, 0), (0, len(classes) - p.shape[1])))


def split_name(split: str, label_set: str, primary: str) -> str:
    """`test` on the primary label set, `test_ferplus` on another."""
    return split if label_set == primary else f"{split}_{label_set}"


def by_label_set(scores: dict[str, dict], primary: str) -> dict[str, dict[str, dict]]:
    """{label set: {split: metrics}}: a model's scores regrouped for tables that show every set."""
    out: dict[str, dict[str, dict]] = {}
    for label_set in LABEL_SOURCES:
        for split in SPLITS:
            key = split_name(split, label_set, primary)
            if key in scores:
                out.setdefault(label_set, {})[split] = scores[key]
    return out
