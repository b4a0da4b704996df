"""A params problem as one line: `params.yaml <dotted key>: <value> <what is allowed>`.

pydantic reports every problem with its location and kind; this turns the first into the line a
user reads, with a "did you mean" for unknown keys. The rest are counted, not listed: fixing the
first often fixes others, and the next run names the next one.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from typing import Any
from collections.abc import Iterable

from pydantic import BaseModel, ValidationError

from ..errors import PipelineError

SOURCE = "params.yaml"

_PHRASES = {
    "int_type": "must be a whole number", "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number", "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false", "string_type": "must be text",
    "list_type": "must be a list", "model_type": "must be a mapping", "dict_type": "must be a mapping",
    "model_attributes_type": "must be a mapping", "string_too_short": "must not be empty",
    "none_required": "must be null",
}


class ParamsError(PipelineError, ValueError):
    """A missing, unknown or malformed parameter, named by its dotted key."""


def dotted(loc: Iterable[Any]) -> str:
    """('train', 'early_stopping', 'patience') -> train.early_stopping.patience; list items as [i]."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def params_line(loc: Iterable[Any], message: str) -> str:
    return f"{SOURCE} {dotted(loc)}: {message}"


def show(value: Any) -> str:
    """A value as it would read in YAML (null, true, "text"), cut short when long."""
    if value is None or isinstance(value, (bool, str)):
        text = json.dumps(value)
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(choices)}"


def first_problem(exc: ValidationError, root: type[BaseModel], at: tuple[str, ...] = ()) -> str:
    """The one line for a failed validation of the whole file (`root` is its schema), or of the
    section found at the dotted key `at` (`root` is then that section's schema)."""
    groups: dict[tuple, list[dict]] = {}
    for error in exc.errors(include_url=False):
        loc, model = _field_path(root, error["loc"])
        if error["type"] == "params_rule":
            loc = (*loc, *str(error["ctx"]["key"]).split("."))
        groups.setdefault(loc, []).append({**error, "model": model})
    groups = _without_inherited(groups)
    loc, errors = next(iter(groups.items()))
    more = len(groups) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return params_line((*at, *loc), _describe(loc, errors)) + tail


def _describe(loc: tuple, errors: list[dict]) -> str:
    first = errors[0]
    kind = first["type"]
    if kind == "missing":
        if isinstance(loc[-1], int):
            return "missing: the list is too short"
        return "missing; every key is required (see docs/params.md)"
    if kind == "extra_forbidden":
        known = first["model"].model_fields if first["model"] is not None else {}
        return f"unknown key ({did_you_mean(str(loc[-1]), known)})"
    value = first["ctx"]["value"] if kind == "params_rule" else first.get("input")
    allowed = [_allowed(error) for error in errors]
    text = allowed[0] + "".join(" or " + a.removeprefix("must be ") for a in allowed[1:])
    return f"got {show(value)}, {text}"


def _allowed(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "params_rule":
        return ctx["message"]
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"must be {ctx['expected']}"
    bounds = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"), "less_than": ("<", "lt"),
              "less_than_equal": ("<=", "le")}
    if kind in bounds:
        sign, key = bounds[kind]
        return f"must be {sign} {ctx[key]}"
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} item{'s' if ctx['min_length'] != 1 else ''}"
    if kind == "too_long":
        return f"must have at most {ctx['max_length']} items"
    return _PHRASES.get(kind, str(error["msg"]).lower())


def _without_inherited(groups: dict[tuple, list[dict]]) -> dict[tuple, list[dict]]:
    """A bad `train` key shows up again in every variant (each one is `train` plus overrides):
    report it once, at `train`."""
    kept = {}
    for loc, errors in groups.items():
        if loc[:1] == ("variants",) and len(loc) >= 2 and ("train", *loc[2:]) in groups:
            continue
        kept[loc] = errors
    return kept


def _field_path(root: type[BaseModel], loc: tuple) -> tuple[tuple, type[BaseModel] | None]:
    """pydantic's location without the union-branch labels it adds, and the model owning the last key."""
    path: list[Any] = []
    node: Any = root
    owner: type[BaseModel] | None = root
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            if part in node.model_fields:
                owner = node
                node = _inner(node.model_fields[part].annotation)
                path.append(part)
            else:  # an unknown key: the owner's fields are the suggestions
                owner, node = node, None
                path.append(part)
            continue
        origin = typing.get_origin(node)
        if origin is dict:
            node = _inner(typing.get_args(node)[1])
            path.append(part)
        elif origin in (list, tuple) and isinstance(part, int):
            node = None
            path.append(part)
        # anything else is a union branch label ("literal['scale']", "constrained-float"): dropped
    return tuple(path), owner


def _inner(annotation: Any) -> Any:
    """The model, dict or list type inside Annotated[...] and `X | None`."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
