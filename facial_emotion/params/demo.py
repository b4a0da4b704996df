"""The sections of the face demo and the web service (which finds faces with `demo.detector`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import Count, Name, NonNegative, Positive, Rate, Section

Unit = Annotated[float, Field(gt=0, le=1)]  # above 0, up to and including 1


class ClipSection(Section):
    frames: Count
    width: Annotated[int, Field(ge=64)]
    height: Annotated[int, Field(ge=64)]
    fps: Positive
    shift_px: Annotated[float, Field(ge=0)]
    zoom: Rate


class DetectorSection(Section):
    """Face detection for the demo and the service. One class per detector setting: a new
    detector adds its keys here (and its own sub-mapping if it has many), nothing else changes."""

    scale_factor: Annotated[float, Field(gt=1)]
    min_neighbors: NonNegative
    min_size: Annotated[list[Count], Field(min_length=2, max_length=2)]
    margin: Annotated[float, Field(ge=0, le=1)]


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
    detector: DetectorSection
    full_scan_every: Count
    tracker: TrackerSection
    crop_px: Annotated[int, Field(ge=16)]
    grid: GridSection
    max_frames: Count | None


class ServeSection(Section):
    host: Name
    port: Annotated[int, Field(ge=0, le=65535)]
    max_upload_mb: Positive
    max_megapixels: Positive
    max_side: Annotated[int, Field(ge=48)]
    whole_image_fallback: bool
