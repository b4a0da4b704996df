"""Named param overrides in `recipes/<name>.yaml`, run as one DVC experiment.

A recipe is a file, not prose in a document: `make recipe RECIPE=cpu` turns it into
`dvc exp run -n <name> -S key=value ... <target>`, so the run is an ordinary DVC experiment (its
overrides show as changed params in `dvc exp show`; it can be queued, pushed and compared). The
recipe test and the benchmarks load the same file through `load_recipe` and `apply_recipe`.

A recipe's length is in epochs, which mean the same on any CPU (a budget in minutes gave a 2-core
AVX2 machine a third of the epochs); its `measured` field says what those epochs took where it was
measured, and the training says after its first epoch what they should take on this machine.
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import pydantic
import yaml

from .errors import PipelineError
from .params import Params, ParamsError, read_yaml, validate
from .paths import PARAMS_FILE, RECIPES_DIR, repo_root


class RecipeError(PipelineError, ValueError):
    """A recipe file that is missing, malformed, or sets a key params.yaml does not have."""


class Measured(pydantic.BaseModel):
    """What the recipe's epochs took on the machine where it was measured."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    epochs: pydantic.PositiveInt
    minutes: pydantic.PositiveFloat
    images_per_second: pydantic.PositiveFloat
    machine: str = pydantic.Field(min_length=1)

    def line(self) -> str:
        return (f"measured: {self.epochs} epochs in {self.minutes:g} min at {self.images_per_second:g} images/s "
                f"on {self.machine}")


@dataclass(frozen=True)
class Recipe:
    name: str  # the DVC experiment's name
    target: str  # the stage `dvc exp run` runs (with its upstream stages)
    params: dict[str, Any]  # dotted params.yaml key -> value
    path: Path
    measured: Measured | None = None


def available(root: Path | None = None) -> list[str]:
    """The recipe names under recipes/."""
    return sorted(p.stem for p in ((root or repo_root()) / RECIPES_DIR).glob("*.yaml"))


def recipe_path(name: str, root: Path | None = None) -> Path:
    """`cpu` -> <root>/recipes/cpu.yaml; a path to a .yaml file is taken as it is."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return Path(name)
    return (root or repo_root()) / RECIPES_DIR / f"{name}.yaml"


def load_recipe(name: str, root: Path | None = None) -> Recipe:
    """Read and check a recipe: every key it sets must be a parameter in params.yaml."""
    root = root or repo_root()
    path = recipe_path(name, root)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe (recipes: {', '.join(available(root)) or 'none'})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: expected a mapping with name, target and params")
    unknown = set(data) - {"name", "target", "params", "measured"}
    if unknown:
        raise RecipeError(f"{path}: unknown field '{sorted(unknown)[0]}' "
                          "(a recipe has name, target, params and measured)")
    for field in ("name", "target"):
        if not isinstance(data.get(field), str) or not data[field].strip():
            raise RecipeError(f"{path}: field '{field}' must be a non-empty string")
    overrides = data.get("params")
    if not isinstance(overrides, dict) or not overrides:
        raise RecipeError(f"{path}: field 'params' must map dotted params.yaml keys to values")
    raw = read_yaml(root / PARAMS_FILE)
    check_keys(overrides, raw, str(path))
    try:  # the schema's own checks: a value of the wrong type or out of range is an error here, not in hour one
        validate(apply_recipe(raw, overrides))
    except ParamsError as exc:
        raise RecipeError(f"{path}: {exc}") from None
    measured = _measured(data.get("measured"), overrides, path)
    return Recipe(data["name"], data["target"], dict(overrides), path, measured)


def _measured(data: Any, overrides: dict[str, Any], path: Path) -> Measured | None:
    """The recipe's `measured` field, checked: its epochs must be the ones the recipe sets."""
    if data is None:
        return None
    try:
        measured = Measured.model_validate(data)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise RecipeError(f"{path}: measured.{where}: {error['msg']}") from None
    if overrides.get("train.epochs") != measured.epochs:
        raise RecipeError(f"{path}: measured.epochs is {measured.epochs} but the recipe sets train.epochs "
                          f"{overrides.get('train.epochs')}: the figures would describe another length")
    return measured


def recipe_params(name: str, root: Path | None = None) -> Params:
    """params.yaml with the recipe applied, validated as the stages validate it: the typed sections
    the library takes."""
    root = root or repo_root()
    params, _ = validate(apply_recipe(read_yaml(root / PARAMS_FILE), load_recipe(name, root).params))
    return params


def check_keys(overrides: dict[str, Any], params: dict[str, Any], source: str) -> None:
    """Each dotted key names one existing parameter (not a whole section): a typo is an error, not a new key."""
    for dotted in overrides:
        node: Any = params
        for part in str(dotted).split("."):
            if not isinstance(node, dict) or part not in node:
                raise RecipeError(f"{source}: key '{dotted}' is not in params.yaml")
            node = node[part]
        if isinstance(node, dict):
            raise RecipeError(f"{source}: key '{dotted}' is a section of params.yaml; set its keys one by one")


def apply_recipe(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of `params` with the overrides set, as `dvc exp run -S` would set them."""
    check_keys(overrides, params, "recipe")
    result = copy.deepcopy(params)
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = result
        for key in parents:
            node = node[key]
        node[leaf] = copy.deepcopy(value)
    return result


def format_value(value: Any) -> str:
    """A value as `dvc exp run -S` reads it back unchanged. DVC parses `-S` values with Hydra's override
    grammar, where `5e-05` is a string (an exponent may not start with 0) and `a,b` is a sweep: floats
    are written out in full (`0.00005`) and strings other than plain words are quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return numpy.format_float_positional(value, trim="0") if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][\w\-/]*", text) and yaml.safe_load(text) == text:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` from the command line, the value read as YAML (as DVC reads it)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"-S {text}: expected key=value")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise RecipeError(f"-S {text}: the value is not valid YAML") from None


def dvc_command(recipe: Recipe, name: str | None = None, extra: dict[str, Any] | None = None,
                queue: bool = False, dvc: str = "dvc") -> list[str]:
    """`dvc exp run -n <name> -S k=v ... <target>`; `extra` overrides come last and replace the recipe's own."""
    extra = extra or {}
    overrides = {**{k: v for k, v in recipe.params.items() if k not in extra}, **extra}
    command = [dvc, "exp", "run", "-n", name or recipe.name]
    if queue:
        command.append("--queue")
    for key, value in overrides.items():
        command += ["-S", f"{key}={format_value(value)}"]
    return command + [recipe.target]


def _dvc_executable() -> str:
    """The venv's dvc beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "dvc"
    found = str(beside) if beside.exists() else shutil.which("dvc")
    if not found:
        raise RecipeError("dvc not found beside this Python or on PATH (make setup installs it)")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facial_emotion.recipes",
        description="Run a recipe (recipes/<name>.yaml) as one DVC experiment: "
                    "dvc exp run -n <name> -S key=value ... <target>.",
        epilog="examples: python -m facial_emotion.recipes cpu --dry-run; "
               "python -m facial_emotion.recipes cpu -n cpu-seed43 -S seed=43; "
               "make recipe RECIPE=cpu ARGS='-S seed=43'")
    parser.add_argument("recipe", help="a name under recipes/ (e.g. cpu) or a path to a .yaml file")
    parser.add_argument("-n", "--name", help="experiment name (default: the recipe's `name`)")
    parser.add_argument("-S", "--set-param", action="append", default=[], metavar="KEY=VALUE",
                        help="one more override on top of the recipe (repeatable), e.g. -S seed=43")
    parser.add_argument("--queue", action="store_true", help="queue the experiment (dvc queue start runs it)")
    parser.add_argument("--dry-run", action="store_true", help="print the dvc command and run nothing")
    args = parser.parse_args(argv)

    root = repo_root()
    recipe = load_recipe(args.recipe, root)
    extra = dict(parse_override(text) for text in args.set_param)
    check_keys(extra, read_yaml(root / PARAMS_FILE), "-S")
    command = dvc_command(recipe, args.name, extra, args.queue, dvc="dvc" if args.dry_run else _dvc_executable())
    if recipe.measured is not None:
        print(f"recipe {recipe.path.name}: {recipe.measured.line()}; the training says after its first epoch "
              "how long it should take on this machine", file=sys.stderr, flush=True)
    if args.dry_run:
        print(shlex.join(command))
        return 0
    print(f"recipe {recipe.path.name}: {shlex.join(['dvc', *command[1:]])}", file=sys.stderr, flush=True)
    return subprocess.run(command, cwd=root, check=False).returncode


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
