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


def first_problem(exc: ValidationError, root: type[BaseModel], at: tuple[str, ...] = (),
                  options: Iterable[str] = ()) -> str:
    """The one line for a failed validation of the whole file (`root` is its schema), or of the
    section found at the dotted key `at` (`root` is then that section's schema). A key among
    `options` came from the command line: the line names its option (`--max-side`), not params.yaml."""
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
    if loc and loc[0] in set(options):
        return f"--{str(loc[0]).replace('_', '-')}: {_describe(loc, errors)}{tail}"
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


# What each rule of the schema and each step of loading says when it rejects params.yaml. The texts
# live here, in a module that no stage's DVC deps list (tests/support/dvc_deps.py), so rewording one
# reruns no stage: they are shown only when a stage stops or warns, never part of what it computes.

def duplicate_key(line: int, key: str) -> str:
    return f"params.yaml line {line}: key {key!r} is written twice in one mapping (only one of them would count)"


def file_not_found(path: Any) -> str:
    return f"{path}: params file not found (run from the repository root)"


def not_yaml(path: Any, problem: Any, where: str = "") -> str:
    return f"{path}{where}: not valid YAML ({problem})"


def not_a_mapping(path: Any) -> str:
    return f"{path}: expected a mapping of sections at the top level"


def not_a_variant(name: Any, balances: Iterable[str], activations: Iterable[str], names: Iterable[str]) -> str:
    return params_line(("variants", name), f"not a CNN variant: names are cnn-<{'|'.join(balances)}>-"
                                           f"<{'|'.join(activations)}> ({did_you_mean(str(name), names)})")


def variant_not_a_mapping(name: Any) -> str:
    return params_line(("variants", name), "must be a mapping of `train` keys to override, e.g. {epochs: 80} or {} "
                                           "for none")


def undeclared(dotted_key: str) -> str:
    return (f"this stage reads params.yaml {dotted_key} but does not declare it: add it to the stage module's PARAMS "
            "and to its params in dvc.yaml")


def variant_missing(dotted_key: str) -> str:
    return params_line(dotted_key.split("."), "missing: dvc.yaml runs this variant, so params.yaml must list it "
                                              "(with {} for no overrides)")


def value_renamed(path: tuple, old: Any, new: Any) -> str:
    return params_line(path, f"{old!r} is now called {new!r}; the old name works until the next release")


def section_renamed(old_path: tuple, new_path: tuple, both_present: bool = False) -> str:
    if both_present:
        return params_line(old_path, f"renamed to {'.'.join(new_path)}, which is also present; delete "
                                     f"{'.'.join(old_path)}")
    return params_line(old_path, f"renamed to {'.'.join(new_path)}; the old name works until the next release")


def key_removed(path: tuple, value: Any = None, still_set: bool = False) -> str:
    message = "removed (measured not to help: docs/experiments/cpu-recipe.md)"
    if still_set:
        return params_line(path, f"{message}; it cannot be {value!r} any more, delete the line")
    return params_line(path, f"{message}; delete the line")


def min_lr_merged(path: tuple, old: Any = None, where: tuple = (), current: Any = None, differs: bool = False) -> str:
    if differs:
        return params_line(path, f"{old!r} differs from {'.'.join(where)}.min_learning_rate ({current!r}): the two "
                                 "floors are one key now, min_learning_rate; delete min_lr")
    return params_line(path, "merged into min_learning_rate (one floor for every schedule); delete the line")


def pool_shortcut_narrows(base_filters: int) -> str:
    return f"with shortcut pool no block may be narrower than the one before (base_filters {base_filters} first)"


def crop_window(image_size: int) -> str:
    return f"must be 0 (off) or a window side from 8 to {image_size - 1} pixels"


def decay_needs_adamw(optimizer: str, key: str) -> str:
    return (f"only optimizer adamw decays weights (optimizer is {optimizer!r}); set optimizer adamw or {key} back to "
            "its default (cnn.l2 adds an L2 penalty for any optimizer)")


FERPLUS_MIX_NEEDS_FER2013 = ("blends FER+'s votes into FER2013's labels, so it needs labels.source fer2013; "
                             "with ferplus the votes are the target already: set it to 0")

COSINE_TIME_NEEDS_BUDGET = "lr_schedule cosine_time needs a time budget in minutes"


def seeds_repeated(repeated: list[int]) -> str:
    named = ", ".join(str(s) for s in repeated)
    return (f"seed{'s' if len(repeated) > 1 else ''} {named} named more than once; each teacher needs its own seed "
            "(the same seed trains the same network)")


def floor_above_peak(learning_rate: float) -> str:
    return f"the learning-rate floor must not exceed learning_rate ({learning_rate})"


def not_a_class(name: str, emotions: Iterable[str]) -> str:
    return f"{name!r} is not a class; use {', '.join(emotions)}"


def not_a_validation_metric(examples: Iterable[str]) -> str:
    return f"must be a validation metric: {', '.join(examples)} or f1_/precision_/recall_<class>"


MIN_SIZE_PAIR = "must be [width, height], each >= 1"
ALIGN_NEEDS_LANDMARKS = "needs eye landmarks, which haar does not give; set align: false or kind: yunet"
