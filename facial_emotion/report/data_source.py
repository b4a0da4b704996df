"""What data a report was built from, said once for the per-model pages and the index page."""

from __future__ import annotations

from typing import Any

from ..notebooks import banner_html
from ..tracking import SYNTHETIC_WARNING


def is_synthetic(ingest_summary: dict[str, Any] | None, fallback_source: str | None = None) -> bool:
    """The ingest summary decides; without one, the source the data files carry."""
    if ingest_summary is not None:
        return bool(ingest_summary.get("synthetic", ingest_summary.get("source") == "synthetic"))
    return fallback_source == "synthetic"


def synthetic_banner() -> str:
    """The loud red banner for reports built from generated faces (HTML, already escaped)."""
    detail = SYNTHETIC_WARNING.split(": ", 1)[-1]
    return banner_html(
        "SYNTHETIC DATA",
        detail[:1].upper() + detail[1:] + ". Put fer2013.csv into data/raw/ and run dvc repro for real results.",
    )


def model_kind(name: str, run_info: dict[str, Any] | None) -> str:
    """A few words on what kind of model `name` is, from its folder's run info."""
    if name == "ensemble" or (run_info or {}).get("members"):
        return "ensemble: the mean probabilities of the best CNNs on validation"
    kind = (run_info or {}).get("kind")
    if name.startswith("cnn-") or kind == "keras":
        return "convolutional network (Keras)"
    if kind == "sklearn" or name in ("logreg", "svm"):
        return "baseline on flattened pixels (scikit-learn)"
    return kind or "unknown kind"
