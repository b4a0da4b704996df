"""`python -m facial_emotion.serve`: load the champion once, then serve the page and the API.

    python -m facial_emotion.serve                                   # params.yaml serve: section
    python -m facial_emotion.serve --model models:/facial-emotion/3 --port 8080
"""

from __future__ import annotations

import argparse
import ipaddress
import logging

from ..faces.startup import load_model, read_app_params
from ..params import with_changes
from ..params.demo import ServeSection
from ..paths import PARAMS_FILE

log = logging.getLogger(__name__)


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


def serve_section(serve: ServeSection, args: argparse.Namespace) -> ServeSection:
    """params.yaml's `serve:` with the options given on top, checked by the same schema."""
    return with_changes(serve, "serve", host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                        max_megapixels=args.max_megapixels, max_side=args.max_side,
                        whole_image_fallback=args.whole_image_fallback)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    params = read_app_params(args.params, missing_ok=args.params == str(PARAMS_FILE))
    serve = serve_section(params.serve, args)
    if not _is_loopback(serve.host):
        log.warning("binding %s: the service is reachable from other machines and has no authentication", serve.host)

    classifier = load_model(args.model, params)

    import uvicorn

    from .app import create_app

    app = create_app(classifier, serve, params.demo.detector)
    log.info("serving %s (version %s) on http://%s:%d", classifier.uri, classifier.version or "-", serve.host,
             serve.port)
    uvicorn.run(app, host=serve.host, port=serve.port, log_level=args.log_level, server_header=False,
                limit_concurrency=serve.max_connections, timeout_keep_alive=5,
                h11_max_incomplete_event_size=serve.max_header_kb * 1024)
