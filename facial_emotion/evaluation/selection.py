"""Choosing on validation only: the test set never influences which model wins."""

from __future__ import annotations

from ..errors import PipelineError


class SelectionError(PipelineError, ValueError):
    """A selection metric that the metrics don't have, or nothing to select from."""


def rank_by_validation(metrics: dict[str, dict[str, dict[str, float]]], select_by: str) -> list[str]:
    """Model names, best first, by `validation[select_by]` (ties broken by name, for stability)."""
    if not metrics:
        raise SelectionError("no models to choose from")
    missing = [name for name, m in metrics.items() if select_by not in m["validation"]]
    if missing:
        raise SelectionError(f"params.yaml evaluate.select_by: '{select_by}' is not a metric of {', '.join(missing)}")
    return sorted(metrics, key=lambda name: (-metrics[name]["validation"][select_by], name))


def choose_champion(metrics: dict[str, dict[str, dict[str, float]]], select_by: str) -> str:
    return rank_by_validation(metrics, select_by)[0]
