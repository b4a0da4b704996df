"""The web service's session fixtures: an untrained stand-in registered as facial-emotion@champion
in a throwaway SQLite MLflow store, and the documented command serving it on loopback.

Imported by conftest.py, so the API and page tests share one store and one server.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.support.serve_local import QUIET_ENV, LocalServer
from benchmarks.support.serve_standin import store_uri

REPO = Path(__file__).resolve().parents[2]
UPLOAD_LIMIT_MB = 1  # low, so the oversize test sends 1.5 MB instead of 10


@dataclass(frozen=True)
class Standin:
    store: Path
    tracking_uri: str
    model_uri: str

    @property
    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, "MLFLOW_REGISTRY_URI": self.tracking_uri}


@pytest.fixture(scope="session")
def serve_standin(tmp_path_factory) -> Standin:
    store = tmp_path_factory.mktemp("serve-store")
    result = subprocess.run([sys.executable, "-m", "benchmarks.support.serve_standin", "--store", str(store)], cwd=REPO,
                            env={**_env(), **QUIET_ENV}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return Standin(store, store_uri(store), result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def serve_server(serve_standin, tmp_path_factory):
    """`python -m facial_emotion.serve` with no --model: the default models:/facial-emotion@champion."""
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    with LocalServer(["--max-upload-mb", str(UPLOAD_LIMIT_MB)], env=serve_standin.env, log_path=log) as server:
        yield server


def _env() -> dict[str, str]:
    """This process's environment without a tracking URI: the stand-in never lands in a real store."""
    return {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}


def astronaut_jpeg(side: int | None = None, quality: int = 90) -> bytes:
    """scikit-image's bundled astronaut photo (offline) as JPEG bytes, optionally resized to side x side."""
    import cv2
    from skimage import data

    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    if side:
        image = cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()


def face_crop_png(region: tuple[slice, slice] = (slice(66, 161), slice(176, 271))) -> bytes:
    """The astronaut's face as a 48x48 grayscale PNG, like a FER2013 image (YuNet finds the face
    in it, as it does in about half of FER2013's raw 48x48 faces), or another region of the photo."""
    import cv2
    from skimage import data

    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[region]
    ok, encoded = cv2.imencode(".png", cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA))
    assert ok
    return encoded.tobytes()


def no_face_png() -> bytes:
    """A 48x48 grayscale PNG in which no detector finds a face: the astronaut's shoulder patch."""
    return face_crop_png((slice(380, 475), slice(60, 155)))


def png_header_only(width: int, height: int) -> bytes:
    """A 74-byte PNG whose header claims width x height pixels: a decompression bomb's opening."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    out = io.BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
    out.write(chunk(b"IDAT", zlib.compress(b"\0" * 1000)))
    out.write(chunk(b"IEND", b""))
    return out.getvalue()
