"""The web service's pieces without a server or TensorFlow: image checks, settings, model names,
and the app itself in-process over a plain-numpy classifier (the real model is the integration
test's job)."""

from __future__ import annotations

import asyncio
import struct
import zlib
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from facial_emotion.faces.emotion_classifier import EmotionClassifier
from facial_emotion.labels import EMOTIONS, NUM_CLASSES
from facial_emotion.params import ParamsError, defaults, read_yaml, validate
from facial_emotion.serve.errors import UnreadableUpload, UnsupportedMediaType, UploadTooLarge
from facial_emotion.serve.images import prepare_image, sniff_format
from facial_emotion.serve.cli import parse_args, serve_section
from facial_emotion.serve.predict import model_identity

REPO = Path(__file__).resolve().parents[2]


def _encode(image: np.ndarray, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _softmax_of_mean(crops: np.ndarray) -> np.ndarray:
    """A deterministic stand-in: probabilities from each crop's mean brightness."""
    logits = np.outer(crops.reshape(len(crops), -1).mean(axis=1) / 255.0, np.arange(NUM_CLASSES))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("ext, fmt", [(".jpg", "JPEG"), (".png", "PNG"), (".bmp", "BMP"), (".tiff", "TIFF"),
                                      (".webp", "WEBP")])
def test_formats_are_recognised_by_their_bytes(ext, fmt):
    assert sniff_format(_encode(np.full((8, 8, 3), 128, np.uint8), ext)) == fmt


def test_text_is_not_an_image():
    with pytest.raises(UnsupportedMediaType, match="not an image"):
        prepare_image(b"hello, world\n", 10**7, 1600)


def test_truncated_jpeg_is_corrupted():
    jpeg = _encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8), ".jpg")
    with pytest.raises(UnreadableUpload, match="corrupted"):
        prepare_image(jpeg[: len(jpeg) // 3], 10**7, 1600)
    with pytest.raises(UnreadableUpload, match="corrupted"):
        prepare_image(jpeg[:4] + b"\0" * 100, 10**7, 1600)


def test_huge_canvas_is_refused_from_the_header():
    with pytest.raises(UploadTooLarge, match="megapixels"):
        prepare_image(_png_claiming(8000, 8000), 50 * 10**6, 1600)  # 64 MP
    with pytest.raises(UploadTooLarge, match="megapixels"):
        prepare_image(_png_claiming(40000, 40000), 50 * 10**6, 1600)  # Pillow's own bomb guard


def test_decoded_pixels_are_capped_from_the_header_and_jpegs_decode_reduced():
    """Issue 41 case 2: a 7000x7000 plain PNG (49 MP, under the 50 MP header limit) was decoded whole."""
    with pytest.raises(UploadTooLarge, match=r"7000x7000 .*max_decoded_megapixels"):
        prepare_image(_png_claiming(7000, 7000), 50 * 10**6, 1600, 16 * 10**6)
    gradient = np.tile(np.arange(3300, dtype=np.uint8)[None, :, None], (3300, 1, 3))
    with pytest.raises(UploadTooLarge, match="max_decoded_megapixels"):
        prepare_image(_encode(gradient, ".png"), 50 * 10**6, 1600, 4 * 10**6)  # 10.9 MP, no reduced decode
    image = prepare_image(_encode(gradient, ".jpg"), 50 * 10**6, 1600, 4 * 10**6)  # decoded at 1/2: 2.7 MP
    assert (image.width, image.height) == (3300, 3300) and image.gray.shape == (1600, 1600)
    assert image.scale == pytest.approx(1600 / 3300)


def test_big_images_are_shrunk_to_max_side():
    image = prepare_image(_encode(np.zeros((900, 1200, 3), np.uint8), ".png"), 10**7, 600)
    assert (image.width, image.height, image.scale) == (1200, 900, 0.5)
    assert image.gray.shape == (450, 600) and image.gray.dtype == np.uint8 and image.bgr.shape == (450, 600, 3)
    small = prepare_image(_encode(np.zeros((48, 48), np.uint8), ".png"), 10**7, 600)
    assert small.scale == 1.0 and small.gray.shape == (48, 48)


def test_settings_from_params_reuse_the_demo_detector(tmp_path):
    import yaml

    from facial_emotion.faces.startup import read_app_params

    raw = read_yaml(REPO / "params.yaml")
    raw["serve"].update(port=9000, max_upload_mb=2)
    raw["demo"]["detector"]["haar"]["scale_factor"] = 1.3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    app = read_app_params(tmp_path / "params.yaml")
    assert app.serve.port == 9000 and app.serve.max_upload_bytes == 2 * 1024 * 1024
    assert app.demo.detector.haar.scale_factor == 1.3 and app.serve.host == "127.0.0.1"
    assert app.demo.detector.kind == "yunet"  # the default detector
    assert serve_section(app.serve, parse_args(["--max-side", "800"])) == app.serve.model_copy(update={"max_side": 800})
    assert serve_section(app.serve, parse_args([])) is app.serve  # no option given: params.yaml's section
    absent = read_app_params(tmp_path / "absent.yaml")  # no params.yaml: the defaults
    assert (absent.serve, absent.demo.detector) == (defaults.SERVE, defaults.DEMO.detector)


@pytest.mark.parametrize("serve, words", [({"max_uplod_mb": 1}, "serve.max_uplod_mb: unknown key .*'max_upload_mb'"),
                                          ({"max_upload_mb": 0}, "serve.max_upload_mb: got 0, must be > 0"),
                                          ({"max_side": 10}, "serve.max_side: got 10, must be >= 48"),
                                          ({"whole_image_fallback": "yes"}, "true or false")])
def test_bad_settings_name_the_field(serve, words):
    raw = read_yaml(REPO / "params.yaml")
    raw["serve"].update(serve)
    with pytest.raises(ParamsError, match=words):
        validate(raw)


@pytest.mark.parametrize("options, line", [(["--port", "70000"], "--port: got 70000, must be <= 65535"),
                                           (["--max-side", "10"], "--max-side: got 10, must be >= 48"),
                                           (["--host", ""], '--host: got "", must not be empty')])
def test_command_line_overrides_are_checked_too(options, line):
    """By the params schema, in a line that names the option the bad value came from."""
    with pytest.raises(ParamsError) as error:
        serve_section(defaults.SERVE, parse_args(options))
    assert str(error.value) == line


@pytest.mark.parametrize("uri, version, expected", [
    ("models:/facial-emotion@champion", "4", ("facial-emotion", "4")),
    ("models:/facial-emotion/3", None, ("facial-emotion", "3")),
    ("models:/m-0123abcd", None, (None, None)),
])
def test_model_identity(uri, version, expected):
    identity = model_identity(EmotionClassifier(_softmax_of_mean, uri, version))
    assert (identity["name"], identity["version"]) == expected and identity["uri"] == uri


@pytest.mark.parametrize("uri, shown", [
    ("/srv/app/facial_emotion/pretrained/fer2013-cnn.keras", "fer2013-cnn.keras"),
    ("models/cnn/model.keras", "model.keras"),
    ("file:///home/ann/mlruns/1/abc/artifacts/model/", "model"),
    ("C:\\Users\\ann\\model.keras", "model.keras"),
    ("runs:/0123/model", "runs:/0123/model"),
])
def test_model_identity_names_no_server_path(uri, shown):
    """Issue 41 case 7: the API's answer named the server's absolute path to the model file."""
    assert model_identity(EmotionClassifier(_softmax_of_mean, uri))["uri"] == shown


class _InProcess:
    """The app over httpx's ASGI transport (starlette's TestClient is deprecated with httpx)."""

    def __init__(self, app) -> None:
        self.app = app

    def _request(self, method: str, url: str, **kwargs) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                return await c.request(method, url, **kwargs)
        return asyncio.run(call())

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self._request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self._request("POST", url, **kwargs)


@pytest.fixture(scope="module")
def client():
    from facial_emotion.serve.app import create_app

    classifier = EmotionClassifier(_softmax_of_mean, "models:/facial-emotion@champion", "7")
    return _InProcess(create_app(classifier, defaults.SERVE.model_copy(update={"max_upload_mb": 0.5})))


def test_app_answers_whole_image_in_process(client):
    crop = _encode(np.full((48, 48), 200, np.uint8), ".png")
    result = client.post("/api/predict?whole_image=true", files={"file": ("f.png", crop, "image/png")}).json()
    assert result["whole_image"] is True and result["model"]["version"] == "7"
    (face,) = result["faces"]
    assert face["box"] == [0, 0, 48, 48] and list(face["probabilities"]) == list(EMOTIONS)
    assert face["label"] == "neutral"  # the stand-in favours the last class for bright images
    none = client.post("/api/predict", files={"file": ("f.png", crop, "image/png")}).json()
    assert none["faces"] == [] and none["whole_image"] is False


def test_app_refusals_are_one_line(client):
    cases = [
        (dict(files={"file": ("a.txt", b"text", "text/plain")}), 415),
        (dict(files={"file": ("a.jpg", b"", "image/jpeg")}), 422),
        (dict(files={"file": ("a.jpg", b"\xff\xd8\xff" + bytes(600_000), "image/jpeg")}), 413),
        (dict(files={"file": ("a.png", b"x", "image/png")}, params={"whole_image": "perhaps"}), 422),
    ]
    for kwargs, status in cases:
        response = client.post("/api/predict", **kwargs)
        assert response.status_code == status, response.text
        assert isinstance(response.json()["detail"], str) and "\n" not in response.json()["detail"]


def test_page_is_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        text = client.get(asset).text
        assert "http://" not in text and "https://" not in text
    assert "https://" not in page.text and "http://" not in page.text
