"""Two classifiers scored on the same faces: the accuracy difference, its 95 % bootstrap interval and
McNemar's exact test. A helper of `benchmarks/peers.py`, not a benchmark of its own.

Paired, because both classifiers see the same rows: what matters is the faces one gets right and the
other wrong (the discordant pairs), not the two accuracies' separate sampling errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

LEVEL = 0.95
BOOTSTRAP_REPLICATES = 10_000


@dataclass(frozen=True)
class Paired:
    """A against B on `rows` faces: `only_a` faces A gets right and B wrong, `only_b` the reverse."""

    rows: int
    only_a: int
    only_b: int
    difference: float  # accuracy A minus accuracy B, as a fraction
    low: float  # the difference's 95 % bootstrap interval
    high: float
    p_value: float  # McNemar's exact (binomial) test on the discordant pairs, two-sided

    def as_dict(self) -> dict:
        return asdict(self)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: under 'no difference' each discordant face is a fair coin."""
    from scipy.stats import binomtest

    discordant = only_a + only_b
    return 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)


def bootstrap_interval(rows: int, only_a: int, only_b: int, replicates: int = BOOTSTRAP_REPLICATES,
                       seed: int = 0, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of the accuracy difference, resampling the faces with replacement.

    A face adds +1 (only A right), -1 (only B right) or 0 to the difference, so a resample of `rows`
    faces is one multinomial draw over those three kinds: the same as resampling rows, without them.
    """
    if rows == 0:
        return float("nan"), float("nan")
    draws = np.random.default_rng(seed).multinomial(
        rows, [only_a / rows, only_b / rows, 1 - (only_a + only_b) / rows], size=replicates)
    differences = (draws[:, 0] - draws[:, 1]) / rows
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(low), float(high)


def compare(correct_a: np.ndarray, correct_b: np.ndarray, replicates: int = BOOTSTRAP_REPLICATES,
            seed: int = 0) -> Paired:
    """A against B from each face's right/wrong (boolean arrays over the same rows, in the same order)."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired comparison needs two 1-D arrays over the same rows, got {a.shape} and {b.shape}")
    rows, only_a, only_b = len(a), int((a & ~b).sum()), int((~a & b).sum())
    low, high = bootstrap_interval(rows, only_a, only_b, replicates, seed)
    difference = (only_a - only_b) / rows if rows else float("nan")
    return Paired(rows, only_a, only_b, difference, low, high, mcnemar_exact(only_a, only_b))
