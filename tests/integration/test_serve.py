"""The web service for real: `python -m facial_emotion.serve` on a loopback port, loading
models:/facial-emotion@champion (an untrained stand-in) from a SQLite MLflow store, answering
real photos, face crops and bad uploads; and `mlflow models serve` on the same registered model."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from facial_emotion.labels import EMOTIONS
from benchmarks.support.serve_local import LocalServer, free_port

from .serve_kit import UPLOAD_LIMIT_MB, astronaut_jpeg, face_crop_png, no_face_png, png_header_only

pytestmark = pytest.mark.slow

ASTRONAUT_FACE = (178, 63, 90, 113)  # YuNet's box on skimage's astronaut (the default detector, params.yaml)


@pytest.fixture(scope="module")
def client(serve_server):
    with httpx.Client(base_url=serve_server.url, timeout=60) as c:
        yield c


def _post_file(client: httpx.Client, data: bytes, name: str = "photo.jpg", kind: str = "image/jpeg", **params):
    return client.post("/api/predict", files={"file": (name, data, kind)}, params=params)


def _assert_refused(response: httpx.Response, status: int, words: str) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and words in detail.lower(), detail
    return detail


def _assert_near(box, expected, tolerance):
    assert np.allclose(box, expected, atol=tolerance), f"box {box} is not near {expected}"


def _assert_probabilities(face):
    probs = face["probabilities"]
    assert list(probs) == list(EMOTIONS)
    assert abs(sum(probs.values()) - 1.0) < 1e-4
    assert face["label"] == max(probs, key=probs.get)
    assert face["confidence"] == pytest.approx(max(probs.values()))


def test_health_docs_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["model"] == {"uri": "models:/facial-emotion@champion", "name": "facial-emotion", "version": "1",
                               "origin": "registry", "trained_on": None, "note": None}
    assert health["labels"] == list(EMOTIONS) and health["max_upload_mb"] == UPLOAD_LIMIT_MB
    assert health["detector"] == {"kind": "yunet", "align": True}  # params.yaml demo.detector
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


def test_photo_gives_each_face_its_seven_probabilities(client):
    response = _post_file(client, astronaut_jpeg())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["model"]["name"] == "facial-emotion" and result["model"]["version"] == "1"
    assert result["image"] == {"width": 512, "height": 512, "scale": 1.0, "format": "JPEG"}
    assert result["whole_image"] is False
    assert len(result["faces"]) == 1
    _assert_near(result["faces"][0]["box"], ASTRONAUT_FACE, 6)
    _assert_probabilities(result["faces"][0])


def test_raw_image_body_is_accepted_too(client):
    response = client.post("/api/predict", content=astronaut_jpeg(), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    assert len(response.json()["faces"]) == 1


def test_crop_is_classified_whole_only_when_asked_and_no_face_is_found(client):
    face = _post_file(client, face_crop_png(), "face.png", "image/png", whole_image="true")
    assert face.status_code == 200 and face.json()["whole_image"] is False  # YuNet finds the face in a 48x48 crop
    (found,) = face.json()["faces"]
    assert found["box"][2] >= 30 and found["box"][3] >= 30
    crop = no_face_png()
    plain = _post_file(client, crop, "patch.png", "image/png")
    assert plain.status_code == 200 and plain.json()["faces"] == [] and plain.json()["whole_image"] is False
    for asked in (_post_file(client, crop, "patch.png", "image/png", whole_image="true"),
                  client.post("/api/predict", files={"file": ("patch.png", crop, "image/png")},
                              data={"whole_image": "true"})):
        assert asked.status_code == 200, asked.text
        result = asked.json()
        assert result["whole_image"] is True
        assert [face["box"] for face in result["faces"]] == [[0, 0, 48, 48]]
        _assert_probabilities(result["faces"][0])


def test_huge_photo_is_downscaled_before_detection(client):
    side = 2400  # max_side 1600: detection runs at 2/3 size, boxes come back in original pixels
    response = _post_file(client, astronaut_jpeg(side, quality=70))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["image"]["width"] == side and result["image"]["scale"] == pytest.approx(1600 / side, abs=1e-4)
    factor = side / 512
    _assert_near(result["faces"][0]["box"], [v * factor for v in ASTRONAUT_FACE], 8 * factor)


def test_non_image_is_415(client):
    _assert_refused(_post_file(client, b"name,emotion\nalice,happy\n", "notes.txt", "text/plain"), 415, "not an image")


def test_corrupted_image_is_422(client):
    _assert_refused(_post_file(client, astronaut_jpeg()[:3000]), 422, "corrupted")


def test_empty_upload_is_422(client):
    _assert_refused(_post_file(client, b""), 422, "empty")
    _assert_refused(client.post("/api/predict", content=b"", headers={"Content-Type": "image/jpeg"}), 422, "empty")
    no_file = client.post("/api/predict", files={"whole_image": (None, "true")})  # multipart, but only a field
    _assert_refused(no_file, 422, "no image")
    _assert_refused(client.post("/api/predict", data={"whole_image": "true"}), 415, "without a file")


def test_oversize_upload_is_413(client):
    oversize = b"\xff\xd8\xff" + bytes(int(1.5 * UPLOAD_LIMIT_MB * 1024 * 1024))
    _assert_refused(_post_file(client, oversize), 413, "too large")

    def chunks():  # no Content-Length: refused while it streams in
        for _ in range(6):
            yield oversize[:300_000]
    _assert_refused(client.post("/api/predict", content=chunks(), headers={"Content-Type": "image/jpeg"}),
                    413, "too large")


def test_image_claiming_a_huge_canvas_is_413_before_decoding(client):
    _assert_refused(_post_file(client, png_header_only(9000, 9000), "bomb.png", "image/png"), 413, "megapixels")


def test_bad_option_is_one_line_422(client):
    _assert_refused(_post_file(client, face_crop_png(), "face.png", "image/png", whole_image="maybe"), 422,
                    "whole_image")


def test_mlflow_models_serve_answers_the_readme_payload(serve_standin, tmp_path):
    """docs/serve.md's plain array API: `mlflow models serve ... --env-manager local` and one 48x48 zero image.
    MLflow starts `uvicorn` through the shell: the venv's bin folder must be on PATH, as when activated."""
    bin_dir = str(Path(sys.executable).parent)
    mlflow = shutil.which("mlflow", path=bin_dir)
    assert mlflow, "mlflow CLI not found next to the interpreter"
    port = free_port()
    command = [mlflow, "models", "serve", "-m", serve_standin.model_uri, "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port)]
    payload = {"inputs": np.zeros((1, 48, 48, 1), dtype=np.uint8).tolist()}
    env = {**serve_standin.env, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    with LocalServer([], env=env, log_path=tmp_path / "mlflow-serve.log", port=port,
                     command=command) as server:
        response = httpx.post(server.url + "/invocations", content=json.dumps(payload),
                              headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 200, response.text
    predictions = np.asarray(response.json()["predictions"])
    assert predictions.shape == (1, len(EMOTIONS))
    assert predictions.sum() == pytest.approx(1.0, abs=1e-4)
