"""Which params a run used that differ from the defaults, for the report's header.

The defaults are params.yaml as committed at git HEAD: under `dvc exp run -S key=value` (or a
hand edit) the work tree's params.yaml differs from HEAD's by exactly the swept values. Without
git, or with params.yaml not committed, there is no baseline and the report says so.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..params import flatten
from ..paths import PARAMS_FILE


@dataclass(frozen=True)
class ParamChange:
    key: str  # dotted, e.g. train.epochs
    default: str  # "absent" when the key is new
    current: str  # "absent" when the key was removed


@dataclass(frozen=True)
class Baseline:
    params: dict[str, Any] | None  # None: no baseline available
    description: str  # which baseline, or why there is none


def git_baseline(params_path: str | Path = PARAMS_FILE) -> Baseline:
    """params.yaml as committed at HEAD of the git repository holding `params_path`."""
    path = Path(params_path).resolve()
    try:
        shown = subprocess.run(["git", "show", f"HEAD:./{path.name}"], cwd=path.parent, capture_output=True,
                               text=True, timeout=20)
        if shown.returncode != 0:
            return Baseline(None, f"no baseline: {path.name} is not committed at git HEAD "
                                  "(or this is not a git checkout)")
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path.parent, capture_output=True,
                                text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return Baseline(None, "no baseline: git is not available")
    try:
        committed = yaml.safe_load(shown.stdout) or {}
    except yaml.YAMLError:
        return Baseline(None, f"no baseline: {path.name} at git HEAD is not valid YAML")
    if not isinstance(committed, dict):
        return Baseline(None, f"no baseline: {path.name} at git HEAD is not a mapping")
    return Baseline(committed, f"{path.name} as committed at git HEAD ({commit or 'unknown commit'})")


def changed_params(current: dict[str, Any], default: dict[str, Any]) -> list[ParamChange]:
    """Every dotted key whose value differs, was added or was removed, in key order."""
    now, before = flatten(current), flatten(default)
    changes = []
    for key in sorted(set(now) | set(before)):
        if key in now and key in before and now[key] == before[key]:
            continue
        changes.append(ParamChange(key, _show(before, key), _show(now, key)))
    return changes


def _show(flat: dict[str, Any], key: str) -> str:
    if key not in flat:
        return "absent"
    return json.dumps(flat[key]) if not isinstance(flat[key], str) else flat[key]
