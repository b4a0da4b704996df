"""dvc.yaml says what each stage depends on, so `dvc repro` reruns what a change touches and
nothing else: every package file a stage imports is a dependency (or inside one), the params a
stage declares are exactly its params in dvc.yaml, and the model lists written out several
times agree with each other and with params.yaml's variants.

Static checks only: the import graph comes from `ast`, no stage is imported or run.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest
import yaml

from tests.support.dvc_deps import RUN_CONTROL, code_deps, reruns
from tests.support.import_graph import package_files

REPO = Path(__file__).resolve().parents[2]
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
PARAMS_YAML = yaml.safe_load((REPO / "params.yaml").read_text())
# A matrix over a params.yaml list (`seed: ${distill.teachers}`) that is empty by default makes no stage;
# its checks run on this stand-in item instead, so the stage's deps and params are checked all the same.
STAND_IN = "7"
# A stage module run with this option reads this tuple instead of PARAMS (stages/train.py's teachers).
MODE_PARAMS = {"teacher_seed": "TEACHER_PARAMS"}


def matrix_values(values: list | str) -> list[str]:
    """A matrix entry's values: its list, or the params.yaml list `${dotted.key}` names (a stand-in when empty)."""
    if isinstance(values, str):
        node = PARAMS_YAML
        for key in re.fullmatch(r"\$\{([\w.]+)\}", values).group(1).split("."):
            node = node[key]
        values = node or [STAND_IN]
    return [str(v) for v in values]


def expanded_stages() -> list[tuple[str, dict, dict[str, str]]]:
    """(name, stage, matrix item) for every stage, a matrix expanded into its items."""
    out = []
    for name, stage in DVC.items():
        matrix = {key: matrix_values(values) for key, values in (stage.get("matrix") or {}).items()}
        for values in itertools.product(*matrix.values()):
            item = dict(zip(matrix, values))
            out.append((f"{name}@{'-'.join(values)}" if item else name, stage, item))
    return out


def fill(text: str, item: dict[str, str]) -> str:
    return re.sub(r"\$\{item\.(\w+)\}", lambda m: item[m.group(1)], text)


def cmd_options(stage: dict, item: dict[str, str]) -> dict[str, str]:
    """The `--name value` options of the stage's command, filled in: `{"balance": "none", ...}`."""
    return {k.replace("-", "_"): v for k, v in re.findall(r"--([\w-]+)\s+([^\s-]\S*)", fill(stage["cmd"], item))}


def stage_module(stage: dict) -> Path:
    match = re.match(r"python -m (stages\.\w+)", stage["cmd"])
    assert match, f"{stage['cmd']!r}: a stage runs `python -m stages.<name>`"
    return REPO / (match.group(1).replace(".", "/") + ".py")


def declared_params(module: Path, name: str = "PARAMS") -> tuple[str, ...]:
    """The stage module's PARAMS tuple (or another, `name`), read from its source (`ALL` is the whole file)."""
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return tuple("params.yaml" if isinstance(e, ast.Name) and e.id == "ALL" else ast.literal_eval(e)
                         for e in node.value.elts)
    raise AssertionError(f"{module.relative_to(REPO)} declares no {name}")


STAGES = expanded_stages()
IDS = [name for name, _, _ in STAGES]


@pytest.mark.parametrize("name, stage, item", STAGES, ids=IDS)
def test_a_stages_code_deps_are_exactly_the_files_it_runs(name, stage, item):
    """File by file: a module the stage runs is listed (else an edit to it would not rerun the stage),
    and a module it does not run is not (else an edit to it would rerun the stage for nothing)."""
    deps = [fill(d, item) for d in stage["deps"]]
    assert str(stage_module(stage).relative_to(REPO)) in deps, f"{name}: its own module is not a dependency"
    want = code_deps(REPO, stage)
    assert "facial_emotion/params/schema.py" in want  # the graph is followed (every stage checks params)
    have = [d for d in deps if d.startswith("facial_emotion/")]
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    assert not missing and not extra, (f"dvc.yaml stage {name}: runs but does not list {missing or '-'}; lists but "
                                       f"does not run {extra or '-'} (`make dvc-deps` rewrites them)")


def test_run_control_modules_reach_no_code_that_computes_outputs():
    """A module left out of every stage's deps (RUN_CONTROL) imports only other such modules, so an
    edit to it cannot change what a stage writes, only whether and how it stops."""
    for module in RUN_CONTROL:
        reached = {p.relative_to(REPO).as_posix() for p in package_files(REPO, [REPO / module])}
        packages = {"facial_emotion/__init__.py", "facial_emotion/params/__init__.py"}  # run on the way in
        outside = sorted(reached - set(RUN_CONTROL) - packages)
        assert not outside, f"{module} is in RUN_CONTROL but imports {outside}"


def test_package_data_files_follow_the_modules_that_read_them():
    """The detector's weights are a dependency of the stages that detect faces, and of no other."""
    weights = "facial_emotion/faces/weights/face_detection_yunet_2023mar.onnx"
    users = {name for name, stage in DVC.items() if weights in code_deps(REPO, stage)}
    assert "demo" in users and "train" not in users and "ingest" not in users, users


def test_the_reruns_of_a_change_are_read_from_dvc_yaml():
    assert reruns(REPO, "facial_emotion/params/messages.py") == []
    assert reruns(REPO, "facial_emotion/lifeline.py") == []
    assert set(reruns(REPO, "facial_emotion/data/synthetic.py")) == {"ingest"}
    assert "train" in reruns(REPO, "facial_emotion/params/training.py")


@pytest.mark.parametrize("name, stage, item", STAGES, ids=IDS)
def test_a_stages_params_in_dvc_yaml_are_exactly_those_it_reads(name, stage, item):
    listed = set()
    for entry in stage.get("params", []):
        if isinstance(entry, dict):  # `- params.yaml:` with no keys: every key of the file
            assert entry == {"params.yaml": None}, entry
            listed.add("params.yaml")
        else:
            listed.add(fill(entry, item))
    options = cmd_options(stage, item)
    tuple_name = next((v for k, v in MODE_PARAMS.items() if k in options), "PARAMS")
    declared = {key.format(**options) for key in declared_params(stage_module(stage), tuple_name)}
    assert listed == declared, \
        f"dvc.yaml stage {name} lists params {sorted(listed)}, its module reads {sorted(declared)}"


def test_the_model_lists_agree():
    train, baseline = DVC["train"]["matrix"], DVC["baseline"]["matrix"]
    cnns = {f"cnn-{b}-{a}" for b, a in itertools.product(train["balance"], train["activation"])}
    trained = cnns | set(baseline["model"])
    assert {fill(o, dict(zip(train, v))) for v in itertools.product(*train.values()) for o in DVC["train"]["outs"]} == \
        {f"models/{n}" for n in cnns}
    for stage in ("evaluate", "report"):
        models = {d.removeprefix("models/") for d in DVC[stage]["deps"] if d.startswith("models/")}
        assert models == trained, \
            f"dvc.yaml {stage} depends on models {sorted(models)}, the stages train {sorted(trained)}"
    variants = yaml.safe_load((REPO / "params.yaml").read_text())["variants"]
    assert set(variants) == cnns, "params.yaml variants are the CNNs of dvc.yaml's train matrix (evaluate scores those)"


def test_the_import_graph_follows_relative_lazy_and_notebook_imports(tmp_path):
    pkg = tmp_path / "facial_emotion"
    (pkg / "sub").mkdir(parents=True)
    for name, text in {"__init__.py": "", "a.py": "def f():\n    from .sub import b\n", "sub/__init__.py": "",
                       "sub/b.py": "from ..c import x\n", "c.py": "x = 1\n", "unused.py": ""}.items():
        (pkg / name).write_text(text)
    (tmp_path / "stage.py").write_text("import json\nfrom facial_emotion import a\n")
    notebook = tmp_path / "n.ipynb"
    notebook.write_text('{"cells": [{"cell_type": "code", "source": ["%matplotlib inline\\n", '
                        '"import facial_emotion.sub"]}]}')
    found = {str(p.relative_to(pkg)) for p in package_files(tmp_path, [tmp_path / "stage.py"])}
    assert found == {"__init__.py", "a.py", "sub/__init__.py", "sub/b.py", "c.py"}
    assert {str(p.relative_to(pkg)) for p in package_files(tmp_path, [notebook])} == {"__init__.py", "sub/__init__.py"}


def test_the_params_packages_messages_live_in_messages_py():
    """A text raised by the schema or the loader is written in params/messages.py, which no stage's
    deps list: rewording it must not rerun training (tests/integration/test_pipeline.py edits it)."""
    for module in sorted((REPO / "facial_emotion/params").glob("*.py")):
        if module.name == "messages.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                texts = [a for call in ast.walk(node.exc) if isinstance(call, ast.Call) for a in call.args
                         if isinstance(a, ast.JoinedStr) or isinstance(a, ast.Constant) and isinstance(a.value, str)
                         and " " in a.value]
                assert not texts, f"{module.relative_to(REPO)}:{node.lineno} writes its message in place"
