"""Recipes are files: recipes/*.yaml load, name only real params, and become the `dvc exp run` that DVC
itself applies the same way."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from dvc.utils.hydra import apply_overrides

from facial_emotion import recipes
from facial_emotion.params import read_yaml
from facial_emotion.recipes import RecipeError, apply_recipe, dvc_command, format_value, load_recipe

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", recipes.available(REPO))
def test_dvc_applies_each_recipes_command_exactly_as_apply_recipe_does(name, tmp_path):
    recipe = load_recipe(name, REPO)
    params_copy = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params_copy)
    command = dvc_command(recipe)
    overrides = [command[i + 1] for i, word in enumerate(command) if word == "-S"]
    assert len(overrides) == len(recipe.params) and command[-1] == recipe.target
    apply_overrides(params_copy, overrides)  # DVC's own `--set-param` code
    # ... read back the way every stage reads params.yaml
    assert read_yaml(params_copy) == apply_recipe(read_yaml(REPO / "params.yaml"), recipe.params)


def test_cpu_recipe_targets_one_variant_and_names_its_experiment():
    recipe = load_recipe("cpu", REPO)
    assert recipe.target == "train@none-relu" and recipe.name == "compact-cpu-recipe"
    assert recipe.params["cnn.architecture"] == "compact"
    assert recipe.measured.minutes <= 60  # the CPU budget: at most 60 minutes of training where it was measured


@pytest.mark.parametrize("name", recipes.available(REPO))
def test_each_recipes_length_is_in_epochs_with_what_they_took_beside_it(name):
    """A budget in minutes gave a slower CPU far fewer epochs: a recipe's length is its epochs,
    the same on any machine, and `measured` states the minutes and images/s they took where measured."""
    recipe = load_recipe(name, REPO)
    params = recipes.recipe_params(name, REPO).train
    assert params.time_budget_minutes is None and params.lr_schedule != "cosine_time"
    assert params.early_stopping.patience >= params.epochs  # nothing ends it before its last epoch
    if recipe.measured is None:  # never run: it must say so
        assert "NOT MEASURED" in recipe.path.read_text()
    else:
        assert recipe.measured.epochs == params.epochs and recipe.measured.images_per_second > 0


@pytest.mark.parametrize("value", [True, False, None, 0.0, 0.002, 0.00005, 1.0e-7, 2.5e12, 40, -3, "compact",
                                   "0.1", "true", "a,b", "it's", "cosine_time", [32, 64], ["gamma", "beta"],
                                   [0.00005, "x"], {"learning_rate": 0.0004}])
def test_values_come_back_unchanged_through_dvcs_own_set_param(value, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("x: 0\n")
    apply_overrides(params, [f"x={format_value(value)}"])
    assert read_yaml(params)["x"] == value  # as the stages read what DVC wrote (5e-05: YAML 1.2)


def _write(root: Path, text: str) -> None:
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    (root / "recipes").mkdir(exist_ok=True)
    (root / "recipes" / "r.yaml").write_text(text)


@pytest.mark.parametrize("text, message", [
    ("name: x\ntarget: train@none-relu\nparams:\n  train.nope: 1\n", "key 'train.nope' is not in params.yaml"),
    ("name: x\ntarget: train@none-relu\nparams:\n  train.early_stopping: 5\n", "'train.early_stopping' is a section"),
    ("name: x\nparams:\n  train.epochs: 5\n", "field 'target' must be a non-empty string"),
    ("name: x\ntarget: t\nparams: {}\n", "field 'params' must map"),
    ("name: x\ntarget: t\nparams:\n  train.epochs: 5\nextra: 1\n", "unknown field 'extra'"),
    ("name: [x\n", "not valid YAML"),
    ("name: x\ntarget: t\nparams:\n  train.epochs: 5\nmeasured: {epochs: 6, minutes: 1, images_per_second: 9, "
     "machine: m}\n", "measured.epochs is 6 but the recipe sets train.epochs 5"),
    ("name: x\ntarget: t\nparams:\n  train.epochs: 5\nmeasured: {epochs: 5, minutes: -1, images_per_second: 9, "
     "machine: m}\n", "measured.minutes: Input should be greater than 0"),
])
def test_a_bad_recipe_is_a_one_line_error_naming_the_file(tmp_path, text, message):
    _write(tmp_path, text)
    with pytest.raises(RecipeError, match=message) as error:
        load_recipe("r", tmp_path)
    assert str(error.value).startswith(str(tmp_path / "recipes" / "r.yaml")) and "\n" not in str(error.value)


def test_unknown_recipe_lists_the_known_ones(tmp_path):
    _write(tmp_path, "name: x\ntarget: t\nparams:\n  train.epochs: 5\n")
    with pytest.raises(RecipeError, match=r"no such recipe \(recipes: r\)"):
        load_recipe("cpu", tmp_path)


def test_a_recipe_says_what_it_took_where_measured_before_it_starts(capsys, monkeypatch):
    """`make recipe` prints the measured minutes and images/s first (then the training its expected
    time on this machine after the first epoch: tests/unit/test_training_options.py)."""
    monkeypatch.chdir(REPO)
    assert recipes.main(["cpu", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "recipe cpu.yaml: measured: 83 epochs in 57.5 min at 688 images/s on 2-core AMD EPYC" in err


def test_dry_run_prints_the_command_with_extra_overrides_last(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert recipes.main(["cpu", "--dry-run", "-n", "cpu-seed43", "-S", "seed=43", "-S", "train.epochs=3"]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert words[:5] == ["dvc", "exp", "run", "-n", "cpu-seed43"] and words[-1] == "train@none-relu"
    assert words[-5:-1] == ["-S", "seed=43", "-S", "train.epochs=3"]
    assert words.count("train.epochs=3") == 1 and "train.epochs=200" not in words  # replaced, not repeated


def test_an_extra_override_naming_no_param_is_an_error(monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(RecipeError, match="-S: key 'train.epoch' is not in params.yaml"):
        recipes.main(["cpu", "--dry-run", "-S", "train.epoch=3"])
