"""params.yaml's schema: every bad value is one line naming params.yaml, the dotted key, the value
and what is allowed; unknown keys get a "did you mean"; variants are `train` deep-merged with their
overrides and checked like it; old names still work for one release, with a warning.

The first group checks the schema in-process (fast, many cases); the second runs the stages
themselves as a user does, in a throwaway project, and checks one line, exit 1, no traceback and
nothing written.
"""

from __future__ import annotations

import copy
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from facial_emotion.params import ALL, ParamsError, StageParams, UndeclaredParamError, read_yaml, validate

REPO = Path(__file__).resolve().parents[2]
STAGES = sorted(p.stem for p in (REPO / "stages").glob("*.py") if p.stem != "__init__")


@pytest.fixture(scope="module")
def base() -> dict:
    return read_yaml(REPO / "params.yaml")


def edited(base: dict, changes: dict[str, object]) -> dict:
    """A copy of the params with dotted keys set (or deleted, with the value DELETE)."""
    raw = copy.deepcopy(base)
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            del node[leaf]
        else:
            node[leaf] = value
    return raw


DELETE = object()

BAD = [  # (changes, the one line expected, after "params.yaml ")
    ({"train.learnig_rate": 0.01}, "train.learnig_rate: unknown key (did you mean 'learning_rate'?)"),
    ({"train.lr_shedule": "cosine"}, "train.lr_shedule: unknown key (did you mean 'lr_schedule'?)"),
    ({"sed": 7}, "sed: unknown key (did you mean 'seed'?)"),
    ({"variants.cnn-none-relu": {"learnig_rate": 0.1}},
     "variants.cnn-none-relu.learnig_rate: unknown key (did you mean 'learning_rate'?)"),
    ({"variants.cnn-none-relu": {"early_stopping": {"patiense": 20}}},
     "variants.cnn-none-relu.early_stopping.patiense: unknown key (did you mean 'patience'?)"),
    ({"variants.cnn-none-relu": {"epochs": 0}}, "variants.cnn-none-relu.epochs: got 0, must be >= 1"),
    ({"variants.cnn-none-relu": {"optimizer": "adam", "weight_decay": 0.1}},
     "variants.cnn-none-relu.weight_decay: got 0.1, only optimizer adamw decays weights"),
    ({"variants.cnn-none-reluu": {}}, "variants.cnn-none-reluu: not a CNN variant: names are "
                                      "cnn-<none|class_weight|smote>-<relu|elu|gelu|swish|selu> "
                                      "(did you mean 'cnn-none-relu'?)"),
    ({"variants.cnn-none-relu": 5}, "variants.cnn-none-relu: must be a mapping of `train` keys to override"),
    ({"train.batch_size": 0}, "train.batch_size: got 0, must be >= 1"),
    ({"train.epochs": -1}, "train.epochs: got -1, must be >= 1"),
    ({"seed": "abc"}, 'seed: got "abc", must be a whole number'),
    ({"seed": 1.5}, "seed: got 1.5, must be a whole number"),
    ({"balance.smote.k_neighbors": 0}, "balance.smote.k_neighbors: got 0, must be >= 1"),
    ({"train.epochs": DELETE}, "train.epochs: missing; every key is required"),
    ({"mlflow": DELETE}, "mlflow: missing; every key is required"),
    ({"train.deterministic": "yes"}, 'train.deterministic: got "yes", must be true or false'),
    ({"train.learning_rate": "fast"}, 'train.learning_rate: got "fast", must be a number'),
    ({"train.early_stopping": 5}, "train.early_stopping: got 5, must be a mapping"),
    ({"split.val_fraction": 1.0}, "split.val_fraction: got 1.0, must be < 1"),
    ({"split.strategy": "random"}, "split.strategy: got \"random\", must be 'official', 'challenge' or 'study1'"),
    ({"cnn.architecture": "resnet"}, "cnn.architecture: got \"resnet\", must be 'study1', 'compact' or 'vgg'"),
    ({"cnn.compact.se_ratio": -1}, "cnn.compact.se_ratio: got -1, must be >= 0"),
    ({"cnn.compact.stem_padding": "full"}, "cnn.compact.stem_padding: got \"full\", must be 'valid' or 'same'"),
    ({"cnn.compact.shortcut": "pool", "cnn.compact.blocks": [16, 32, 24, 64]},
     "cnn.compact.blocks: got [16, 32, 24, 64], with shortcut pool no block may be narrower than the one before"),
    ({"labels.source": "ferplus", "labels.ferplus_mix": 0.5},
     "labels.ferplus_mix: got 0.5, blends FER+'s votes into FER2013's labels, so it needs labels.source fer2013"),
    ({"labels.ferplus_mix": 1.5}, "labels.ferplus_mix: got 1.5, must be <= 1"),
    ({"augmentation.crop": 48}, "augmentation.crop: got 48, must be 0 (off) or a window side from 8 to 47 pixels"),
    ({"distill.teachers": [7, 11, 7]}, "distill.teachers: got [7, 11, 7], seed 7 named more than once; each teacher"),
    ({"distill.teachers": [7.5]}, "distill.teachers[0]: got 7.5, must be a whole number"),
    ({"distill.teachers": [-1]}, "distill.teachers[0]: got -1, must be >= 0"),
    ({"distill.teachers": 7}, "distill.teachers: got 7, must be a list"),
    ({"distill.weight": 0}, "distill.weight: got 0, must be > 0"),
    ({"distill.weight": 1.5}, "distill.weight: got 1.5, must be <= 1"),
    ({"distill.tta_flip": "yes"}, 'distill.tta_flip: got "yes", must be true or false'),
    ({"train.weight_decay": 0.05}, "train.weight_decay: got 0.05, only optimizer adamw decays weights"),
    ({"train.weight_decay_exclude": ["gamma"]}, "train.weight_decay_exclude: got [\"gamma\"], only optimizer adamw"),
    ({"train.optimizer": "adamw", "train.weight_decay_exclude": ["gamma", ""]},
     'train.weight_decay_exclude[1]: got "", must not be empty'),
    ({"train.optimizer": "rmsprop"}, "train.optimizer: got \"rmsprop\", must be 'adam', 'adamw' or 'sgd'"),
    ({"train.lr_schedule": "cosine_time"},
     "train.time_budget_minutes: got null, lr_schedule cosine_time needs a time budget"),
    ({"train.time_budget_minutes": 0}, "train.time_budget_minutes: got 0, must be > 0"),
    ({"train.onecycle.warmup_fraction": 1.0}, "train.onecycle.warmup_fraction: got 1.0, must be < 1"),
    ({"train.onecycle.div_factor": 0.5}, "train.onecycle.div_factor: got 0.5, must be >= 1"),
    ({"train.mixup": 11}, "train.mixup: got 11, must be <= 10"),
    ({"train.outlier_exposure": 1.5}, "train.outlier_exposure: got 1.5, must be <= 1"),
    ({"train.ema_momentum": 1.5}, "train.ema_momentum: got 1.5, must be < 1"),
    ({"train.restore": "final"}, "train.restore: got \"final\", must be 'best' or 'last'"),
    ({"train.min_learning_rate": 0.1}, "train.min_learning_rate: got 0.1, the learning-rate floor must not exceed"),
    ({"baselines.svm.gamma": -1}, "baselines.svm.gamma: got -1, must be 'scale' or > 0"),
    ({"baselines.logreg.n_jobs": 0}, "baselines.logreg.n_jobs: got 0, must be >= 1 or -1"),
    ({"balance.flip_classes": ["disgust", "sadnes"]},
     "balance.flip_classes: got [\"disgust\", \"sadnes\"], 'sadnes' is not a class"),
    ({"evaluate.select_by": "f1"}, 'evaluate.select_by: got "f1", must be a validation metric'),
    ({"demo.detector.kind": "mtcnn"}, "demo.detector.kind: got \"mtcnn\", must be 'yunet' or 'haar'"),
    ({"demo.detector.haar.min_size": [0, 30]},
     "demo.detector.haar.min_size: got [0, 30], must be [width, height], each >= 1"),
    ({"demo.detector.haar.min_size": [30]}, "demo.detector.haar.min_size[1]: missing: the list is too short"),
    ({"demo.detector.kind": "haar"}, "demo.detector.align: got true, needs eye landmarks, which haar does not give"),
    ({"serve.port": 70000}, "serve.port: got 70000, must be <= 65535"),
    ({"augmentation.erasing": 0.5}, "augmentation.erasing: removed (measured not to help"),
    ({"train.reduce_lr.min_lr": 1e-5}, "train.reduce_lr.min_lr: 1e-05 differs from train.min_learning_rate"),
    ({"cnn.seed": {"filters": [8]}}, "cnn.seed: renamed to cnn.study1, which is also present"),
]


@pytest.mark.parametrize("changes, expected", BAD, ids=[next(iter(c)) + f"-{i}" for i, (c, _) in enumerate(BAD)])
def test_each_bad_param_is_one_line_naming_key_value_and_what_is_allowed(base, changes, expected):
    with pytest.raises(ParamsError) as info:
        validate(edited(base, changes))
    message = str(info.value)
    assert message.startswith(f"params.yaml {expected}"), message
    assert "\n" not in message


def test_a_typo_in_train_is_reported_once_not_once_per_variant(base):
    with pytest.raises(ParamsError) as info:
        validate(edited(base, {"train.learnig_rate": 0.01}))
    assert "more problem" not in str(info.value)
    with pytest.raises(ParamsError, match=r"\(and 1 more problem\)$"):
        validate(edited(base, {"train.learnig_rate": 0.01, "seed": -1}))


def test_a_nested_variant_override_merges_into_train(base):
    params, _ = validate(edited(base, {"variants.cnn-smote-elu": {"early_stopping": {"patience": 20}, "epochs": 7}}))
    merged, plain = params.variants["cnn-smote-elu"], params.variants["cnn-none-relu"]
    assert merged.early_stopping.patience == 20 and merged.epochs == 7
    assert merged.early_stopping.monitor == params.train.early_stopping.monitor  # the rest of the mapping is kept
    assert plain == params.train
    assert base["variants"]["cnn-smote-elu"] == {}  # the file's own dict is not changed


def test_yaml_reads_numbers_as_yaml_1_2_and_refuses_a_key_written_twice(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  learning_rate: 1e-3\n  epochs: 5\n")
    assert read_yaml(path)["train"]["learning_rate"] == 0.001  # PyYAML alone reads the text "1e-3"
    path.write_text("train:\n  epochs: 5\n  batch_size: 8\n  epochs: 50\n")
    with pytest.raises(ParamsError, match="line 4: key 'epochs' is written twice"):
        read_yaml(path)
    path.write_text("train: [1\n")
    with pytest.raises(ParamsError, match=r"params.yaml line 2, column 1: not valid YAML"):
        read_yaml(path)


def test_old_names_work_for_one_release_with_a_warning(base):
    old = edited(base, {"cnn.architecture": "seed", "split.strategy": "seed", "augmentation.erasing": 0.0,
                        "cnn.compact.feature_dropout": 0.0,
                        "train.reduce_lr.min_lr": base["train"]["min_learning_rate"]})
    old["cnn"]["seed"] = old["cnn"].pop("study1")
    params, notes = validate(old)
    assert params.cnn.architecture == "study1" and params.split.strategy == "study1"
    assert params.cnn.study1.filters == base["cnn"]["study1"]["filters"]
    assert len(notes) == 6 and all(note.startswith("params.yaml ") and "\n" not in note for note in notes)
    assert any("cnn.architecture: 'seed' is now called 'study1'" in note for note in notes)


def test_the_defaults_without_a_params_file_are_the_files_values(base):
    """The demo and the service run without params.yaml on params/defaults.py: the same values."""
    from facial_emotion.params import defaults

    params, _ = validate(base)
    assert (defaults.SEED, defaults.REGISTRY) == (params.seed, params.registry)
    assert (defaults.DEMO, defaults.SERVE) == (params.demo, params.serve)


def test_stage_params_give_the_declared_keys_only(base):
    params, _ = validate(base)
    view = StageParams(params, ["seed", "mlflow.experiment", "variants.cnn-none-relu"])
    assert view.seed == base["seed"] and view.mlflow.experiment == base["mlflow"]["experiment"]
    assert view.variants["cnn-none-relu"].epochs == base["train"]["epochs"]
    assert view.logged() == {"seed": base["seed"], "mlflow": {"experiment": base["mlflow"]["experiment"]},
                             "variants": {"cnn-none-relu": params.train.model_dump()}}
    for read in (lambda: view.train, lambda: view.variants["cnn-smote-elu"], lambda: view.mlflow.other):
        with pytest.raises(UndeclaredParamError, match="does not declare it"):
            read()
    assert StageParams(params, [ALL]).train.epochs == base["train"]["epochs"]


# --- the stages, run as a user runs them -------------------------------------------------------------


@pytest.fixture()
def project(tmp_path) -> Path:
    """A project folder: the code linked in, params.yaml and dvc.yaml copied (the test edits them)."""
    for name in ("stages", "facial_emotion", "notebooks"):
        (tmp_path / name).symlink_to(REPO / name)
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    return tmp_path


def run_stage(root: Path, stage: str, *args: str) -> subprocess.CompletedProcess:
    # A tracking server that refuses at once: a stage that got past its params fails there, fast.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))},
           "MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", f"stages.{stage}", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def files_in(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_symlink()}


def write_params(root: Path, changes: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(edited(read_yaml(root / "params.yaml"), changes), sort_keys=False))


STAGE_CASES = [  # (stage and its arguments, changes, the line expected on stderr)
    (["ingest"], {"sed": 7}, "sed: unknown key (did you mean 'seed'?)"),
    (["ingest"], {"train.learnig_rate": 0.01}, "train.learnig_rate: unknown key (did you mean 'learning_rate'?)"),
    (["train", "--balance", "none", "--activation", "relu"], {"variants.cnn-none-relu": {"lr_shedule": "cosine"}},
     "variants.cnn-none-relu.lr_shedule: unknown key (did you mean 'lr_schedule'?)"),
    (["preprocess"], {"seed": "abc"}, 'seed: got "abc", must be a whole number'),
    (["balance"], {"balance.smote.k_neighbors": 0}, "balance.smote.k_neighbors: got 0, must be >= 1"),
    (["eda"], {"train.batch_size": DELETE}, "train.batch_size: missing; every key is required (see docs/params.md)"),
    (["train", "--balance", "smote", "--activation", "elu"],
     {"variants.cnn-smote-elu": {"early_stopping": {"patiense": 3}}},
     "variants.cnn-smote-elu.early_stopping.patiense: unknown key (did you mean 'patience'?)"),
    (["teach"], {"distill.teachers": [3, 3]}, "distill.teachers: got [3, 3], seed 3 named more than once; each "
     "teacher needs its own seed (the same seed trains the same network)"),
    (["train", "--balance", "none", "--activation", "relu", "--teacher-seed", "7"], {"distill.weight": 0},
     "distill.weight: got 0, must be > 0.0"),
]


@pytest.mark.parametrize("command, changes, expected", STAGE_CASES,
                         ids=[f"{c[0]}-{next(iter(ch))}" for c, ch, _ in STAGE_CASES])
def test_a_stage_stops_on_a_bad_param_with_one_line_before_any_work(project, command, changes, expected):
    write_params(project, changes)
    before = files_in(project)
    result = run_stage(project, *command)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: params.yaml {expected}", result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert files_in(project) == before  # no output, no MLflow store: nothing ran


def test_a_nested_variant_override_gets_a_stage_past_its_params(project):
    write_params(project, {"variants.cnn-none-relu": {"early_stopping": {"patience": 20}}})
    result = run_stage(project, "train", "--balance", "none", "--activation", "relu")
    # The params passed: the stage went on to MLflow, which (on purpose) does not answer.
    assert result.returncode == 1 and "params.yaml" not in result.stderr
    assert result.stderr.strip().startswith("error: MLflow tracking server http://127.0.0.1:9 does not answer")


def test_an_old_name_still_runs_and_warns_once(project):
    text = (project / "params.yaml").read_text().replace("strategy: official", "strategy: seed")
    (project / "params.yaml").write_text(text)
    result = run_stage(project, "preprocess")
    assert "params.yaml split.strategy: 'seed' is now called 'study1'" in result.stderr
    assert result.stderr.count("is now called") == 1 and "MLflow tracking server" in result.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_help_describes_the_stage_and_runs_nothing(project, stage):
    before = files_in(project)
    result = run_stage(project, stage, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m stages.{stage}") and "Reads params.yaml:" in result.stdout
    assert result.stderr == "" and files_in(project) == before


def test_deprecation_notes_are_logged_by_read_params(tmp_path, base, caplog):
    from facial_emotion.params import read_params

    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(edited(base, {"cnn.architecture": "seed"})))
    with caplog.at_level(logging.WARNING, logger="facial_emotion.params"):
        assert read_params(path).cnn.architecture == "study1"
    assert [r.getMessage() for r in caplog.records] == [
        "params.yaml cnn.architecture: 'seed' is now called 'study1'; the old name works until the next release"]
