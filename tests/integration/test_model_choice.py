"""Which model answers, and what the answer says about it (issue 41, cases 5 and 6), for real: a
champion registered as trained on synthetic data in a throwaway SQLite store, the service on
loopback and the demo's command line; and the demo on a real mp4 cut short."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from facial_emotion import pretrained
from facial_emotion.files import read_json
from tests.support.mp4 import fast_start, write_clip
from benchmarks.support.serve_local import QUIET_ENV, LocalServer
from benchmarks.support.serve_standin import store_uri

from .serve_kit import REPO, _env, astronaut_jpeg

pytestmark = pytest.mark.slow

CHAMPION = "models:/facial-emotion@champion"


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory) -> dict[str, str]:
    """A store whose champion's registry version says data_source=synthetic, as `dvc repro` leaves it."""
    store = tmp_path_factory.mktemp("synthetic-store")
    result = subprocess.run([sys.executable, "-m", "benchmarks.support.serve_standin", "--store", str(store),
                             "--data-source", "synthetic"], cwd=REPO, env={**_env(), **QUIET_ENV},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    uri = store_uri(store)
    return {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}


def _predict(server: LocalServer) -> dict:
    response = httpx.post(server.url + "/api/predict", content=astronaut_jpeg(),
                          headers={"Content-Type": "image/jpeg"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_service_prefers_the_shipped_model_over_a_synthetic_champion_and_says_so(synthetic_store, tmp_path):
    log = tmp_path / "server.log"
    with LocalServer([], env=synthetic_store, log_path=log) as server:
        model = _predict(server)["model"]
        health = httpx.get(server.url + "/health", timeout=10).json()["model"]
        text = server.log_tail(50_000)
    assert model == health
    assert model["origin"] == "shipped" and model["trained_on"] == "fer2013"
    assert model["uri"] == pretrained.ONNX_FILE.name  # its name, not the server's path to it
    assert "synthetic" in model["note"] and "--model" in model["note"] and "\n" not in model["note"]
    assert str(REPO) not in str(model)
    assert sum("trained on synthetic faces only" in line for line in text.splitlines()) == 1, text[-3000:]


def test_service_asked_for_the_synthetic_champion_uses_it_and_says_so_in_every_answer(synthetic_store, tmp_path):
    with LocalServer(["--model", CHAMPION], env=synthetic_store, log_path=tmp_path / "server.log") as server:
        model = _predict(server)["model"]
        text = server.log_tail(50_000)
    assert model["uri"] == CHAMPION and model["origin"] == "given" and model["trained_on"] == "synthetic"
    assert "SYNTHETIC" in model["note"] and "never seen a real face" in model["note"]
    assert sum("never seen a real face" in line for line in text.splitlines()) == 1, text[-3000:]


def _demo(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facial_emotion.faces.demo", "--no-window",
                           "--params", str(REPO / "params.yaml"), *args], cwd=cwd,
                          env={**_env(), **QUIET_ENV, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True,
                          timeout=600)


def test_demo_prefers_the_shipped_model_over_a_synthetic_champion_and_says_so(synthetic_store, tmp_path):
    result = _demo(["--source", "astronaut", "--max-frames", "3", "--out", str(tmp_path / "out")],
                   synthetic_store, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = read_json(tmp_path / "out" / "summary.json")
    assert summary["model_trained_on"] == "fer2013" and "synthetic" in summary["model_note"]
    assert sum("trained on synthetic faces only" in line for line in result.stderr.splitlines()) == 1


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory) -> Path:
    """A real mp4 (OpenCV, mp4v) with its index first, as phones write it, cut at 60 %."""
    folder = tmp_path_factory.mktemp("cut-clip")
    data = fast_start(write_clip(folder / "whole.mp4", 50, size=(320, 240)).read_bytes())
    clip = folder / "cut.mp4"
    clip.write_bytes(data[: int(len(data) * 0.6)])
    return clip


def test_demo_on_a_truncated_video_warns_says_truncated_and_fails_under_strict(cut_clip, tmp_path):
    """The landed main said `31 frames` and exit 0. (Without --strict the same run exits 0: the
    summary is written before the check, tests/unit/test_video_truncation.py has the reading.)"""
    out = tmp_path / "out"
    result = _demo(["--source", str(cut_clip), "--model", str(pretrained.MODEL_FILE), "--out", str(out), "--strict"],
                   {}, tmp_path)
    summary = read_json(out / "summary.json")  # written either way
    assert summary["truncated"] is True and summary["frames_expected"] == 50 and 0 < summary["frames"] < 50
    warnings = [line for line in result.stderr.splitlines() if "ends early" in line]
    assert len(warnings) == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1 and "truncated" in errors[0], result.stderr[-3000:]
