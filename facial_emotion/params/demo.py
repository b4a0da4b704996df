"""The sections of the face demo and the web service (which finds faces with `demo.detector`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .messages import ALIGN_NEEDS_LANDMARKS, MIN_SIZE_PAIR
from .base import Count, Name, NonNegative, Positive, Rate, Section, rule

Unit = Annotated[float, Field(gt=0, le=1)]  # above 0, up to and including 1
MB = 1024 * 1024


class ClipSection(Section):
    frames: Count
    width: Annotated[int, Field(ge=64)]
    height: Annotated[int, Field(ge=64)]
    fps: Positive
    shift_px: Annotated[float, Field(ge=0)]
    zoom: Rate


class _Section(BaseModel):
    """Not strict like `Section`: `min_size` comes from YAML as a list and is kept as a tuple; with
    defaults, so the demo and the service run without a params.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CropParams(_Section):
    """How a face box becomes the model's square crop: the box's longer side plus `margin` of it on
    every side (negative: a tighter square than the box), centred `shift` of that side below the
    box centre (negative: above)."""

    margin: float = Field(ge=-0.25, le=1.0)
    shift: float = Field(ge=-0.5, le=0.5)


class YuNetParams(_Section):
    """cv2.FaceDetectorYN's knobs. YuNet's time grows with the pixels it sees, so an image whose
    longer side is over `max_side` is shrunk to it first (boxes come back in the image's pixels);
    faces under about 10 pixels at that size are lost."""

    score_threshold: float = Field(0.8, gt=0.0, lt=1.0)
    nms_threshold: float = Field(0.3, gt=0.0, le=1.0)
    max_side: int = Field(640, ge=64)
    align_face_px: int = Field(160, ge=32, le=400)  # with align: landmarks measured again with the face this big
    # still photos only (the service, the demo's photo and folder sources, the API); video frames keep
    # their per-frame budget. Measured by benchmarks/face_detection.py (docs/detector.md).
    # look again at higher resolution when max_side shrank the photo: in tiles of max_side, or in one pass
    second_look: Literal["off", "tiles", "full"] = "tiles"
    second_look_side: int = Field(2048, ge=64)  # longer side of the second look (never more than the photo's own)
    turned: bool = True  # also scan the photo turned by 90, 180 and 270 degrees (faces lying down, upside down)
    turned_scale: float = Field(0.5, gt=0.0, le=1.0)  # the turned scans' resolution, as a share of the first pass's
    # measured by benchmarks/face_framing.py so the eyes sit where FER2013's do (docs/detector.md)
    margin: float = Field(-0.03, ge=-0.25, le=1.0)
    shift: float = Field(-0.01, ge=-0.5, le=0.5)

    @property
    def crop(self) -> CropParams:
        return CropParams(margin=self.margin, shift=self.shift)


class HaarParams(_Section):
    """The cascade's knobs (OpenCV's names) and its crop: Haar's boxes are square and tighter than YuNet's."""

    scale_factor: float = Field(1.1, gt=1.0)
    min_neighbors: int = Field(5, ge=0)
    min_size: tuple[int, int] = (30, 30)
    margin: float = Field(0.01, ge=-0.25, le=1.0)
    shift: float = Field(0.01, ge=-0.5, le=0.5)

    @model_validator(mode="after")
    def _positive_size(self) -> HaarParams:
        if min(self.min_size) < 1:
            raise rule("min_size", list(self.min_size), MIN_SIZE_PAIR)
        return self

    @property
    def crop(self) -> CropParams:
        return CropParams(margin=self.margin, shift=self.shift)


class DetectorParams(_Section):
    """params.yaml `demo.detector` (the demo, the `demo` stage and the web service all use it)."""

    kind: Literal["yunet", "haar"] = "yunet"
    align: bool = True  # turn each face upright by its eyes before the crop (needs YuNet's landmarks)
    # a face whose top class probability is below this is shown as "uncertain" instead of a label
    # (chosen on FER2013 PublicTest with the shipped model: benchmarks/uncertain_threshold.py)
    uncertain_below: float = Field(0.5, ge=0.0, lt=1.0)
    yunet: YuNetParams = YuNetParams()
    haar: HaarParams = HaarParams()

    @model_validator(mode="after")
    def _align_needs_landmarks(self) -> DetectorParams:
        if self.align and self.kind == "haar":
            raise rule("align", True, ALIGN_NEEDS_LANDMARKS)
        return self

    @property
    def crop(self) -> CropParams:
        """The crop geometry of the chosen detector."""
        return self.yunet.crop if self.kind == "yunet" else self.haar.crop


class TrackerSection(Section):
    iou_threshold: Unit
    smoothing: Literal["ema", "window"]
    alpha: Unit
    window: Count
    hold_frames: Count
    min_hits: Count
    max_missed: NonNegative


class GridSection(Section):
    size: Count
    columns: Count


class DemoSection(Section):
    source: Name
    annotated_video: bool
    clip: ClipSection
    detector: DetectorParams
    full_scan_every: Count
    tracker: TrackerSection
    crop_px: Annotated[int, Field(ge=16)]
    grid: GridSection
    max_frames: Count | None


class ServeSection(Section):
    """The web service's limits, in the units params.yaml writes them; the properties give the
    bytes and pixels the service compares against."""

    host: Name
    port: Annotated[int, Field(ge=0, le=65535)]
    max_upload_mb: Positive
    max_megapixels: Positive
    max_decoded_megapixels: Positive
    max_side: Annotated[int, Field(ge=48)]
    whole_image_fallback: bool
    concurrent_decodes: Count
    max_queue: Count
    body_timeout_s: Positive
    min_upload_kbps: Positive
    max_connections: Count
    max_header_kb: Count

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1e6)

    @property
    def max_decoded_pixels(self) -> int:
        return int(self.max_decoded_megapixels * 1e6)

    @property
    def min_upload_bytes_per_s(self) -> float:
        return self.min_upload_kbps * 1024
