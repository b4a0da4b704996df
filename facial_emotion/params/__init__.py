"""params.yaml: one typed schema, validated once when a stage starts, before any work.

    params = load_params(PARAMS)          # PARAMS: the keys this stage reads (dvc.yaml lists the same)
    params.train.epochs, params.mlflow.experiment

Every problem is one line naming params.yaml, the dotted key, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterable

from ..paths import PARAMS_FILE
from .load import read_params, read_yaml, validate, with_changes
from .messages import ParamsError
from .schema import Params
from .view import ALL, StageParams, UndeclaredParamError

__all__ = ["ALL", "Params", "ParamsError", "StageParams", "UndeclaredParamError", "read_params", "flatten",
           "load_params", "read_yaml", "validate", "with_changes"]


def load_params(reads: Iterable[str] = (ALL,), path: str | Path = PARAMS_FILE, **item: str) -> StageParams:
    """Validate the whole file, then give the stage its declared keys. `item`: a dvc.yaml matrix
    item, filled into declared keys such as `variants.cnn-{balance}-{activation}`."""
    return StageParams(read_params(path), [key.format(**item) for key in reads])


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
