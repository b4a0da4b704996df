"""Read params.yaml and validate all of it, once, before a stage does any work.

YAML is read as YAML 1.2 reads numbers (`1e-3` is a number, as DVC reads it, not PyYAML's
text), and a key written twice is an error instead of the last one silently winning.
"""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..paths import PARAMS_FILE
from .deprecations import upgrade
from .messages import (ParamsError, duplicate_key, file_not_found, first_problem, not_a_mapping, not_a_variant,
                       not_yaml, variant_not_a_mapping)
from .schema import VARIANT_NAMES, Params
from .training import ACTIVATIONS, BALANCES

log = logging.getLogger("facial_emotion.params")

SectionT = TypeVar("SectionT", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats (`1e-3`, no dot needed) and duplicate keys refused."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ParamsError(duplicate_key(key_node.start_mark.line + 1, key))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_yaml(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """The file as a plain mapping; a missing file or a YAML syntax error is one line."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(file_not_found(path))
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ParamsError(not_yaml(path, exc.problem, where)) from None
    except yaml.YAMLError as exc:
        raise ParamsError(not_yaml(path, exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(not_a_mapping(path))
    return data


def validate(raw: dict[str, Any]) -> tuple[Params, list[str]]:
    """The typed params and the deprecation warnings; ParamsError (one line) on the first problem."""
    raw = copy.deepcopy(raw)
    notes = upgrade(raw)
    raw["variants"] = _merged_variants(raw)
    try:
        return Params.model_validate(raw), notes
    except ValidationError as exc:
        raise ParamsError(first_problem(exc, Params)) from None


def with_changes(section: SectionT, at: str, **changes: Any) -> SectionT:
    """`section` (params.yaml's `at`, a dotted key) with command-line values on top, checked by the
    same schema, so an option breaks the rule its key would; the line names the option (`--port`)
    when the value came from one. None values (options not given) are left out."""
    given = {key: value for key, value in changes.items() if value is not None}
    if not given:
        return section
    try:
        return type(section).model_validate({**dict(section), **given})
    except ValidationError as exc:
        raise ParamsError(first_problem(exc, type(section), tuple(at.split(".")), options=given)) from None


def _merged_variants(raw: dict[str, Any]) -> Any:
    """Each `variants.<name>` deep-merged onto `train`, to be validated like `train`."""
    variants, train = raw.get("variants"), raw.get("train")
    if not isinstance(variants, dict):
        return variants  # pydantic names the problem
    merged = {}
    for name, override in variants.items():
        if name not in VARIANT_NAMES:
            raise ParamsError(not_a_variant(name, BALANCES, ACTIVATIONS, VARIANT_NAMES))
        if override is None:
            override = {}
        if not isinstance(override, dict):
            raise ParamsError(variant_not_a_mapping(name))
        merged[name] = deep_merge(train, override) if isinstance(train, dict) else override
    return merged


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read and validate the file, logging each deprecation once."""
    params, notes = validate(read_yaml(path))
    for note in notes:
        log.warning("%s", note)
    return params
