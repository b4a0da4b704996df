"""Read params.yaml once, so stages pass plain values down instead of re-reading config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import PipelineError


class ParamsError(PipelineError, ValueError):
    """A missing or malformed parameter, named by its dotted path."""


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Load the params file as a plain dict; a missing file is a one-line error."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: params file not found (run from the repository root)")
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return data


def get(params: dict[str, Any], dotted: str) -> Any:
    """`get(p, "train.epochs")`: a nested value, or ParamsError naming the missing key."""
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamsError(f"params.yaml: missing parameter '{dotted}'")
        node = node[part]
    return node


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys for logging to MLflow (`train.epochs` -> 50)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
