"""`python -m facial_emotion.serve`: load the champion once, then serve the page and the API.

    python -m facial_emotion.serve                                   # params.yaml serve: section
    python -m facial_emotion.serve --model models:/facial-emotion/3 --port 8080
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import PARAMS_FILE
from .settings import ServeSettings

if TYPE_CHECKING:
    from ..params import Params

log = logging.getLogger(__name__)

DEFAULT_REGISTERED_MODEL = "facial-emotion"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m facial_emotion.serve",
        description="Emotion web service: upload page and JSON API over the champion model",
    )
    parser.add_argument("--model", default=None,
                        help="MLflow model URI, .onnx or .keras file (default: models:/<registry.model_name>@champion, "
                             "else the pretrained model shipped with the package)")
    parser.add_argument("--host", default=None, help="address to bind (default: serve.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: serve.port, 8000)")
    parser.add_argument("--max-upload-mb", type=float, default=None,
                        help="upload size limit (default: serve.max_upload_mb)")
    parser.add_argument("--max-megapixels", type=float, default=None,
                        help="decoded image size limit (default: serve.max_megapixels)")
    parser.add_argument("--max-side", type=int, default=None,
                        help="longer side downscaled to this before detection (default: serve.max_side)")
    parser.add_argument("--whole-image-fallback", action=argparse.BooleanOptionalAction, default=None,
                        help="when no face is found, classify the whole image (default: serve.whole_image_fallback)")
    parser.add_argument("--params", default=str(PARAMS_FILE),
                        help=f"params file (default: {PARAMS_FILE}; absent: defaults)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> tuple[ServeSettings, Params | None]:
    from ..params import read_params

    params = read_params(args.params) if Path(args.params).exists() else None
    settings = ServeSettings.from_params(params).replace(
        host=args.host, port=args.port, max_upload_mb=args.max_upload_mb, max_megapixels=args.max_megapixels,
        max_side=args.max_side, whole_image_fallback=args.whole_image_fallback)
    return settings, params


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings, params = settings_from_args(args)
    registered = params.registry.model_name if params else DEFAULT_REGISTERED_MODEL
    if not _is_loopback(settings.host):
        log.warning("binding %s: the service is reachable from other machines and has no authentication", settings.host)

    from ..faces.classifier import load_classifier, load_default_classifier

    if not (args.model or "").endswith((".keras", ".onnx")):
        from .. import tracking

        tracking.configure(params.mlflow.experiment if params else tracking.DEFAULT_EXPERIMENT)
    classifier = load_classifier(args.model) if args.model else load_default_classifier(registered)
    model_uri = classifier.uri

    import uvicorn

    from .app import create_app

    app = create_app(classifier, settings)
    log.info("serving %s (version %s) on http://%s:%d", model_uri, classifier.version or "-", settings.host,
             settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, server_header=False,
                limit_concurrency=settings.max_connections, timeout_keep_alive=5,
                h11_max_incomplete_event_size=settings.max_header_kb * 1024)
