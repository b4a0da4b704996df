"""The service's settings: params.yaml's `serve:` section, face detection from `demo.detector`
(one detector configuration for the demo and the service), command-line options on top."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..params.demo import DetectorParams
from ..params import Params, ParamsError

MB = 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"            # loopback: nothing outside this machine can reach it
    port: int = 8000
    max_upload_mb: float = 10.0        # bigger uploads are refused with 413 before they are read
    max_megapixels: float = 50.0       # image size read from the header (a small PNG can claim a huge canvas) -> 413
    max_decoded_megapixels: float = 16.0  # pixels one request may decode (JPEGs decode reduced) -> 413
    max_side: int = 1600               # longer side downscaled to this before detection
    whole_image_fallback: bool = False  # no face found: classify the whole image as one face
    concurrent_decodes: int = 2        # uploads decoded and analysed at once (memory: this x one decode)
    max_queue: int = 16                # uploads read and waiting for a decode slot; one more -> 503 + Retry-After
    body_timeout_s: float = 30.0       # a request body must arrive whole within this -> 408
    min_upload_kbps: float = 16.0      # and, after its first seconds, at least this fast -> 408
    max_connections: int = 256         # open connections (uvicorn's limit_concurrency); more -> 503, /health too
    max_header_kb: int = 16            # request line + headers (uvicorn's h11_max_incomplete_event_size) -> 400
    detector: DetectorParams = DetectorParams()

    def __post_init__(self) -> None:
        if not self.host:
            raise ParamsError("params.yaml serve.host: must not be empty")
        if not 0 <= int(self.port) <= 65535:
            raise ParamsError(f"params.yaml serve.port: must be 0-65535, not {self.port}")
        if not float(self.max_upload_mb) > 0:
            raise ParamsError(f"params.yaml serve.max_upload_mb: must be > 0, not {self.max_upload_mb}")
        if not float(self.max_megapixels) > 0:
            raise ParamsError(f"params.yaml serve.max_megapixels: must be > 0, not {self.max_megapixels}")
        for name in ("max_decoded_megapixels", "body_timeout_s", "min_upload_kbps"):
            if not float(getattr(self, name)) > 0:
                raise ParamsError(f"params.yaml serve.{name}: must be > 0, not {getattr(self, name)}")
        for name in ("concurrent_decodes", "max_queue", "max_connections", "max_header_kb"):
            if int(getattr(self, name)) < 1:
                raise ParamsError(f"params.yaml serve.{name}: must be >= 1, not {getattr(self, name)}")
        if int(self.max_side) < 48:
            raise ParamsError(f"params.yaml serve.max_side: must be >= 48 pixels, not {self.max_side}")
        if not isinstance(self.whole_image_fallback, bool):
            raise ParamsError("params.yaml serve.whole_image_fallback: must be true or false, "
                              f"not {self.whole_image_fallback!r}")

    @property
    def max_upload_bytes(self) -> int:
        return int(float(self.max_upload_mb) * MB)

    @property
    def max_pixels(self) -> int:
        return int(float(self.max_megapixels) * 1e6)

    @property
    def max_decoded_pixels(self) -> int:
        return int(float(self.max_decoded_megapixels) * 1e6)

    @property
    def min_upload_bytes_per_s(self) -> float:
        return float(self.min_upload_kbps) * 1024

    @classmethod
    def from_params(cls, params: Params | None) -> ServeSettings:
        """From the validated params.yaml (`serve:` and `demo.detector`), or the defaults without one."""
        if params is None:
            return cls()
        return cls(**params.serve.model_dump(), detector=params.demo.detector)

    def replace(self, **changes: Any) -> ServeSettings:
        """A copy with the given fields changed; None values (options not given) are left out."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
