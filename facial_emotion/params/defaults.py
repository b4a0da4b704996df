"""The values the webcam demo, the web service and tests use when there is no params.yaml (a wheel
installed outside the project): the ones params.yaml ships with, built by the same schema, so
there is no second set of rules and no second copy of a default in the library
(tests/unit/test_params.py checks they still match the file).

params.yaml itself keeps every key required: these fill in for a missing file, never a missing key.
"""

from __future__ import annotations

from .demo import ClipSection, DemoSection, DetectorParams, GridSection, ServeSection, TrackerSection
from .results import RegistrySection

SEED = 42

# The registered model in the MLflow Model Registry; its champion is models:/<model_name>@champion.
REGISTRY = RegistrySection(model_name="facial-emotion")

DEMO = DemoSection(
    source="astronaut",
    annotated_video=True,
    clip=ClipSection(frames=60, width=640, height=480, fps=15.0, shift_px=12.0, zoom=0.15),
    detector=DetectorParams(),
    full_scan_every=30,
    tracker=TrackerSection(iou_threshold=0.3, smoothing="ema", alpha=0.5, window=5, hold_frames=3, min_hits=3,
                           max_missed=10),
    crop_px=144,
    grid=GridSection(size=16, columns=4),
    max_frames=None,
)

SERVE = ServeSection(
    host="127.0.0.1",
    port=8000,
    max_upload_mb=10.0,
    max_megapixels=50.0,
    max_decoded_megapixels=16.0,
    max_side=1600,
    whole_image_fallback=False,
    concurrent_decodes=2,
    max_queue=16,
    body_timeout_s=30.0,
    min_upload_kbps=16.0,
    max_connections=256,
    max_header_kb=16,
)
