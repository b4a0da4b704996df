"""The pretrained model shipped with the package: it loads offline, its card matches the file, and
the demo and the web service fall back to it (saying so) only when no champion is registered."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from facial_emotion import pretrained  # noqa: E402
from facial_emotion.pretrained.build import sha256_file  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


# FER2013's test rows: the official split tests on PublicTest + PrivateTest; FER+'s own split on
# PrivateTest, the faces with a FER+ majority label (3,376).
TEST_ROWS = {"fer2013": ("official", 7178, 7), "ferplus": ("challenge", 3376, 8)}


@pytest.mark.parametrize("which", sorted(pretrained.SHIPPED))
def test_each_shipped_model_is_the_file_its_card_describes(which):
    shipped = pretrained.SHIPPED[which]
    card = shipped.card()
    split, rows, classes = TEST_ROWS[which]
    assert sha256_file(shipped.keras_file) == card["file_sha256"] and card["labels"] == which
    assert shipped.keras_file.stat().st_size < 3_000_000
    with zipfile.ZipFile(shipped.keras_file) as archive:
        stored = archive.read("model.weights.h5")
    with h5py.File(io.BytesIO(stored)) as weights:
        assert "optimizer" not in weights, "the optimizer's state was shipped (build.strip_optimizer)"
    assert card["split"] == split and card["scores"]["test"]["rows"] == rows and len(card["classes"]) == classes


@pytest.mark.parametrize("which", sorted(pretrained.SHIPPED))
def test_each_markdown_card_states_the_figures_in_its_card_json(which):
    shipped = pretrained.SHIPPED[which]
    text = shipped.card_file.read_text(encoding="utf-8")
    card = shipped.card()
    other = next(key for key in card if key.startswith("scores_"))
    for scores, splits in ((card["scores"], ("validation", "test", "PrivateTest", "PublicTest")),
                           (card[other], ("test", "PrivateTest"))):
        for split in splits:
            for key in ("accuracy", "macro_f1"):
                assert f"{scores[split][key]:.4f}" in text, f"{shipped.card_file.name} lacks {split} {key}"
    assert card["data_sha256"] in text and card["commit"] in text


def test_the_default_is_a_shipped_model():
    assert pretrained.SHIPPED[pretrained.DEFAULT].onnx_file == pretrained.ONNX_FILE
    assert pretrained.DEFAULT in pretrained.summary() or pretrained.card()["name"] in pretrained.summary()


@pytest.mark.parametrize("which", sorted(pretrained.SHIPPED))
def test_each_shipped_model_loads_offline_and_gives_probabilities(which):
    from facial_emotion.faces.classifier import load_classifier

    shipped = pretrained.SHIPPED[which]
    classifier = load_classifier(str(shipped.keras_file))
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    probabilities = classifier(faces)
    assert probabilities.shape == (5, TEST_ROWS[which][2])
    assert classifier.classes == tuple(shipped.card()["classes"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_no_champion_means_the_shipped_model_said_in_health(tmp_path, monkeypatch, caplog):
    import httpx

    from facial_emotion import tracking
    from facial_emotion.faces.classifier import load_default_classifier
    from facial_emotion.serve.app import create_app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    tracking.configure("shipped-test", root=tmp_path)
    classifier = load_default_classifier("facial-emotion")
    assert classifier.origin == "shipped"
    assert "using the pretrained model shipped with the package" in caplog.text

    async def health():
        transport = httpx.ASGITransport(app=create_app(classifier))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/health")).json()

    import asyncio

    body = asyncio.run(health())
    assert body["model"]["origin"] == "shipped" and body["model"]["uri"].endswith(pretrained.ONNX_FILE.name)
    assert body["runtime"] == "onnxruntime" and body["labels"] == pretrained.card()["classes"]


def test_the_demo_without_a_champion_says_so_first(tmp_path):
    from skimage import data

    import cv2

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "facial_emotion.faces.demo", "--source", str(photo), "--no-window",
                             "--out", str(tmp_path / "out"), "--params", str(REPO / "params.yaml")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ours = [line for line in result.stderr.splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert "pretrained model shipped with the package" in ours[0]
