"""facial_emotion/paths.py and dvc.yaml name the same artefacts: a path renamed in one place only
would make a stage write where DVC does not look."""

from __future__ import annotations

from pathlib import Path

import yaml

from facial_emotion import paths

REPO = Path(__file__).resolve().parents[2]
NOT_IN_DVC = {"PARAMS_FILE", "DVC_YAML", "DVC_LOCK", "RECIPES_DIR", "MLFLOW_DB", "MLARTIFACTS_DIR", "STATE_DIR",
              "DEMO_LIVE_DIR", "REPORTS_DIR"}  # not stage deps or outs


def _dvc_paths() -> set[str]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    found: set[str] = set()
    for stage in stages.values():
        for key in ("deps", "outs", "metrics", "plots"):
            for entry in stage.get(key, []):
                found.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return found


def test_every_artefact_path_is_a_dependency_or_output_in_dvc_yaml():
    declared = _dvc_paths()
    for name, value in vars(paths).items():
        if name.isupper() and isinstance(value, Path) and name not in NOT_IN_DVC:
            inside = any(d.startswith(f"{value}/") or str(value).startswith(f"{d}/") for d in declared)
            assert str(value) in declared or inside, (name, value)
    for split in ("train", "val", "test"):
        assert str(paths.processed(split)) in declared
    assert str(paths.EDA_DIR / "eda.html") in declared and str(paths.EDA_DIR / "figures.json") in declared


def test_paths_are_relative_to_the_repository_root():
    assert all(not v.is_absolute() for v in vars(paths).values() if isinstance(v, Path))
