"""Reading params.yaml, and atomic writers that never leave half a file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from facial_emotion.errors import PipelineError
from facial_emotion.files import atomic_path, read_json, read_npz, write_json, write_npz, write_text
from facial_emotion.params import ParamsError, flatten, read_params, read_yaml

REPO = Path(__file__).resolve().parents[2]
PARAMS = {"seed": 42, "train": {"epochs": 5, "optimizer": {"lr": 0.001}}, "ingest": {"on_bad_row": "error"}}


# --- params (the schema's own tests: tests/unit/test_params.py) -------------------------------------


def test_read_yaml_reads_a_mapping(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("seed: 42\ntrain:\n  epochs: 5\n  optimizer:\n    lr: 1.0e-3\ningest:\n  on_bad_row: error\n")
    assert read_yaml(path) == PARAMS


def test_the_repositorys_params_yaml_is_valid() -> None:
    params = read_params(REPO / "params.yaml")
    assert isinstance(params.seed, int) and params.variants.keys() == {
        f"cnn-{b}-{a}" for b in ("none", "class_weight", "smote") for a in ("relu", "elu")}


def test_missing_params_file(tmp_path) -> None:
    with pytest.raises(ParamsError, match="params.yaml: params file not found") as info:
        read_yaml(tmp_path / "params.yaml")
    assert isinstance(info.value, PipelineError)


def test_params_file_that_is_not_a_mapping(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ParamsError, match="expected a mapping of sections at the top level"):
        read_yaml(path)


def test_empty_params_file_is_an_empty_mapping(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("")
    assert read_yaml(path) == {}


def test_flatten_gives_dotted_keys() -> None:
    assert flatten(PARAMS) == {"seed": 42, "train.epochs": 5, "train.optimizer.lr": 0.001, "ingest.on_bad_row": "error"}


# --- files ----------------------------------------------------------------------------------------


def test_atomic_path_leaves_nothing_when_the_block_fails(tmp_path) -> None:
    target = tmp_path / "out" / "summary.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_atomic_path_keeps_the_old_file_when_the_block_fails(tmp_path) -> None:
    target = tmp_path / "metrics.json"
    write_json(target, {"accuracy": 0.5})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("{")
            raise RuntimeError("crash")
    assert read_json(target) == {"accuracy": 0.5} and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_written_files_are_readable_like_any_other(tmp_path) -> None:
    target = tmp_path / "report.txt"
    write_text(target, "hello\n")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert target.read_text() == "hello\n"


def test_write_json_is_sorted_and_handles_numpy(tmp_path) -> None:
    target = tmp_path / "m.json"
    write_json(target, {"b": np.float32(0.5), "a": np.int64(3), "c": np.arange(3), "d": tmp_path})
    text = target.read_text()
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": 3, "b": 0.5, "c": [0, 1, 2], "d": str(tmp_path)}


def test_write_json_rejects_unknown_types_without_a_file(tmp_path) -> None:
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        write_json(tmp_path / "x.json", {"a": object()})
    assert list(tmp_path.iterdir()) == []


def test_npz_round_trip_keeps_the_exact_name(tmp_path) -> None:
    target = tmp_path / "faces.npz"
    images = np.arange(2 * 48 * 48, dtype=np.uint8).reshape(2, 48, 48)
    write_npz(target, images=images, usage=np.array(["Training", "PublicTest"]))
    assert [p.name for p in tmp_path.iterdir()] == ["faces.npz"]
    arrays = read_npz(target)
    assert np.array_equal(arrays["images"], images) and arrays["images"].dtype == np.uint8
    assert arrays["usage"].tolist() == ["Training", "PublicTest"]
