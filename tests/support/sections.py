"""Typed params sections for tests: the repo's params.yaml sections with a few keys changed, checked
by the schema as params.yaml is, so a test trains only with settings a params file could hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from facial_emotion.params import read_params
from facial_emotion.params.base import Section

PARAMS_YAML = Path(__file__).resolve().parents[2] / "params.yaml"
S = TypeVar("S", bound=Section)


def changed(section: S, **changes: Any) -> S:
    """`section` with `changes`; a dict changes only the keys it names of a nested section
    (`early_stopping={"patience": 3}`)."""
    data = section.model_dump()
    for key, value in changes.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data[key], dict) else value
    return type(section).model_validate(data)


def defaults():
    """The repo's params.yaml, typed."""
    return read_params(PARAMS_YAML)


def train(**changes: Any):
    """params.yaml's `train` section with `changes`."""
    return changed(defaults().train, **changes)
