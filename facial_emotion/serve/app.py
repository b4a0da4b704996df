"""The FastAPI app: upload page, JSON API, health, OpenAPI docs. `create_app` takes a loaded
classifier, so importing this module loads nothing and tests can build apps freely.

    GET  /                 upload page (plain HTML + JS from /static, no external requests)
    POST /api/predict      an image (multipart `file` field, or the raw body) -> faces and probabilities
    GET  /health           model, limits, queue and refusal counts (answered even while uploads are refused)
    GET  /docs, /openapi.json

Hostile clients: a body that arrives too slowly is cut with 408 (upload.RequestBody), a decode too
big for its header's promise is 413 (images.prepare_image), and a full queue is 503 with
`Retry-After` (gate.DecodeGate); each refusal is one log line and counted in /health.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from .. import __version__
from ..faces.emotion_classifier import EmotionClassifier
from ..labels import EMOTIONS
from ..params import defaults
from ..params.demo import DetectorParams, ServeSection
from .errors import ServiceBusy, UploadRejected, UploadTooLarge
from .gate import DecodeGate
from .predict import EmotionService, public_uri
from .upload import RequestBody, check_declared_length, read_upload

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

# The page and its assets load from this server only; /docs keeps FastAPI's own (CDN) assets.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

DISCARD_FACTOR = 4  # a refused body is read and dropped up to this many times the limit (see upload.py)

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class ModelInfo(BaseModel):
    uri: str = Field(description="MLflow model URI, or the model file's name (never a server path)")
    name: str | None = Field(None, description="registered model name; null for a file or a logged-model URI")
    version: str | None = Field(None, description="registry version behind the alias, when known")
    origin: str = Field("given", description="given (--model), registry (the champion) or shipped (pretrained)")
    trained_on: str | None = Field(None, description="the data it was trained on (synthetic, fer2013), when known")
    note: str | None = Field(None, description="one line to heed: a model trained on synthetic faces, or a "
                                               "champion passed over for the shipped model")


class ImageInfo(BaseModel):
    width: int = Field(description="decoded width in pixels (EXIF orientation applied)")
    height: int
    scale: float = Field(description="detection ran on the image resized by this factor (<= 1)")
    format: str


class Face(BaseModel):
    box: list[int] = Field(description="[x, y, width, height] in original image pixels", min_length=4, max_length=4)
    probabilities: dict[str, float] = Field(description="one per class of the model (GET /health `labels`), "
                                                        f"e.g. FER2013's {', '.join(EMOTIONS)}")
    label: str = Field(description="the most likely class")
    confidence: float = Field(description="its probability")
    uncertain: bool = Field(description="true when `confidence` is under demo.detector.uncertain_below: "
                            "show the face as uncertain rather than as `label`")


class Prediction(BaseModel):
    model: ModelInfo
    image: ImageInfo
    faces: list[Face] = Field(description="largest first; empty when no face was found")
    whole_image: bool = Field(description="true when no face was found and the whole image was classified")


class Problem(BaseModel):
    detail: str


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary", "description": "JPEG, PNG, WebP, BMP, TIFF or GIF"},
                    "whole_image": {"type": "boolean", "description": "same as the query parameter"},
                }},
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _form_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise UploadRejected(f"form field {name!r}: expected true or false, not {value[:40]!r}")


def create_app(classifier: EmotionClassifier, serve: ServeSection | None = None,
               detector: DetectorParams | None = None) -> FastAPI:
    """`serve`: params.yaml's `serve:` section, `detector` its `demo.detector` (None: the defaults)."""
    serve = serve or defaults.SERVE
    detector = detector or defaults.DEMO.detector
    service = EmotionService(classifier, serve, detector)
    app = FastAPI(
        title="Facial emotion",
        version=__version__,
        description="Upload a photo, get each face's box and the probabilities of the model's classes "
                    f"({', '.join(classifier.classes or EMOTIONS)}). Model: `{public_uri(classifier.uri)}`.",
    )
    app.state.service = service
    app.state.gate = gate = DecodeGate(serve.concurrent_decodes, serve.max_queue)

    @app.middleware("http")
    async def page_headers(request: Request, call_next):
        response = await call_next(request)
        if request.url.path == "/" or request.url.path.startswith("/static/"):
            response.headers.update(PAGE_HEADERS)
        return response

    @app.exception_handler(UploadRejected)
    async def rejected(request: Request, exc: UploadRejected) -> JSONResponse:
        headers = {}
        if isinstance(exc, ServiceBusy):
            headers["Retry-After"] = str(exc.retry_after_s)
        if exc.status in (408, 503):  # the slow or turned-away client's connection is freed for others
            gate.refused[exc.status] += 1
            headers["Connection"] = "close"
            client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
            log.warning("%d for %s: %s (%d so far)", exc.status, client, exc, gate.refused[exc.status])
        elif exc.status == 413:
            gate.refused[exc.status] += 1
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's list of problems as one line, like every other refusal."""
        lines = [f"{' '.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
                 for error in exc.errors()]
        return JSONResponse({"detail": "; ".join(lines) or "invalid request"}, status_code=422)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health", summary="Model and limits")
    async def health() -> dict:
        return {
            "status": "ok",
            "model": service.model,
            "labels": list(classifier.classes or ()),
            "runtime": classifier.runtime,
            "max_upload_mb": serve.max_upload_mb,
            "max_megapixels": serve.max_megapixels,
            "max_decoded_megapixels": serve.max_decoded_megapixels,
            "body_timeout_s": serve.body_timeout_s,
            "min_upload_kbps": serve.min_upload_kbps,
            "queue": gate.state(),
            "refused": {str(status): count for status, count in sorted(gate.refused.items())},
            "max_side": serve.max_side,
            "whole_image_fallback": serve.whole_image_fallback,
            "detector": {"kind": detector.kind, "align": detector.align},
        }

    problems = {408: "upload too slow", 413: "upload or image too large", 415: "not an image",
                422: "empty, corrupted or malformed upload", 503: "busy: every decode slot and queue place taken"}

    @app.post("/api/predict", response_model=Prediction, summary="Faces and emotion probabilities in a photo",
              openapi_extra=UPLOAD_BODY,
              responses={code: {"model": Problem, "description": text} for code, text in problems.items()})
    async def predict(
        request: Request,
        whole_image: bool | None = Query(
            None, description="when no face is found, classify the whole image as one face (for 48x48 face "
                              "crops); default: serve.whole_image_fallback "
                              f"({str(serve.whole_image_fallback).lower()})"),
    ) -> dict:
        limit = serve.max_upload_bytes
        body = RequestBody(request.receive, serve.body_timeout_s, serve.min_upload_bytes_per_s)
        declared = request.headers.get("content-length")
        try:
            check_declared_length(declared, limit)
            upload = await read_upload(body.chunks(), request.headers.get("content-type"), limit)
        except UploadTooLarge:
            asked_first = request.headers.get("expect", "").lower() == "100-continue"
            if not asked_first and int(declared or 0) <= DISCARD_FACTOR * limit:
                await body.discard_rest(DISCARD_FACTOR * limit)
            raise
        if whole_image is None and "whole_image" in upload.fields:
            whole_image = _form_bool("whole_image", upload.fields["whole_image"])
        return await gate.run(service.predict, upload.data, whole_image)

    return app
