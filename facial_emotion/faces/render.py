"""Drawing, all in OpenCV's BGR order end to end (the first study showed BGR crops as RGB, so its
grid had blue faces): boxes, labels, per-class confidence bars, fps, captioned crops, the grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from ..labels import class_names
from .uncertain import UNCERTAIN
from .tracker import FaceState

FONT = cv2.FONT_HERSHEY_SIMPLEX
# One BGR colour per emotion, in label order: anger, disgust, fear, happiness, sadness, surprise, neutral.
COLOURS: tuple[tuple[int, int, int], ...] = (
    (40, 40, 220), (40, 140, 60), (160, 60, 150), (40, 200, 240), (200, 120, 40), (230, 200, 60), (170, 170, 170),
    (120, 60, 200),  # FER+'s contempt
)
BAR_WIDTH = 70
BAR_HEIGHT = 9


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour, background=None) -> None:
    """Text with an optional filled box behind it, so it reads on any background."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x, y = origin
    if background is not None:
        cv2.rectangle(image, (x, y - h - 3), (x + w + 4, y + base), background, cv2.FILLED)
    cv2.putText(image, text, (x + 2, y - 1), FONT, scale, colour, 1, cv2.LINE_AA)


UNCERTAIN_COLOUR = (160, 160, 160)  # grey: no emotion is claimed


def label_text(state: FaceState) -> str:
    """`happiness 87%`, or `uncertain (sadness? 34%)` when the top probability is under the threshold."""
    if state.uncertain:
        return f"{UNCERTAIN} ({class_names(len(state.probs))[state.label]}? {state.confidence:.0%})"
    return f"{class_names(len(state.probs))[state.label]} {state.confidence:.0%}"


def label_colour(state: FaceState) -> tuple[int, int, int]:
    return UNCERTAIN_COLOUR if state.uncertain else COLOURS[state.label % len(COLOURS)]


def draw_face(image: np.ndarray, state: FaceState) -> None:
    """Box and label of one face, with a bar per class beside it (right of the box, or left when
    there is no room)."""
    x, y, w, h = state.box
    colour = label_colour(state)
    cv2.rectangle(image, (x, y), (x + w, y + h), colour, 2)
    _text(image, f"#{state.track_id} {label_text(state)}", (x, max(14, y - 4)), 0.5, (0, 0, 0), colour)
    bars_x = x + w + 6 if x + w + 6 + BAR_WIDTH + 30 <= image.shape[1] else max(0, x - BAR_WIDTH - 36)
    for k, prob in enumerate(state.probs):
        top = y + k * (BAR_HEIGHT + 3)
        if top + BAR_HEIGHT >= image.shape[0]:
            break
        cv2.rectangle(image, (bars_x + 30, top), (bars_x + 30 + BAR_WIDTH, top + BAR_HEIGHT), (60, 60, 60), cv2.FILLED)
        length = int(round(BAR_WIDTH * float(np.clip(prob, 0, 1))))
        if length:
            cv2.rectangle(image, (bars_x + 30, top), (bars_x + 30 + length, top + BAR_HEIGHT), COLOURS[k], cv2.FILLED)
        _text(image, class_names(len(state.probs))[k][:3], (bars_x, top + BAR_HEIGHT), 0.35, (255, 255, 255),
              (30, 30, 30))


def draw_frame(image: np.ndarray, states: Sequence[FaceState], fps: float | None = None,
               latency_ms: float | None = None) -> np.ndarray:
    """Annotate `image` in place (and return it): every face, then fps and latency at the top left."""
    for state in states:
        draw_face(image, state)
    parts = []
    if fps is not None:
        parts.append(f"{fps:.1f} fps")
    if latency_ms is not None:
        parts.append(f"{latency_ms:.1f} ms")
    if parts:
        _text(image, "  ".join(parts), (6, 20), 0.55, (255, 255, 255), (0, 0, 0))
    return image


def captioned_crop(crop: np.ndarray, caption: str, colour: tuple[int, int, int], size: int = 144) -> np.ndarray:
    """A face crop resized to `size` x `size` with its caption on a strip underneath (BGR)."""
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    face = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR)
    strip = np.zeros((22, size, 3), dtype=np.uint8)
    strip[:] = colour
    _text(strip, caption, (2, 17), 0.45, (0, 0, 0))
    return np.vstack([face, strip])


def make_grid(images: Sequence[np.ndarray], columns: int = 4, gap: int = 4,
              background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Equal-sized BGR tiles in rows of `columns`: ceil(n / columns) rows, never an empty one."""
    if not images:
        raise ValueError("make_grid needs at least one image")
    tile_h, tile_w = images[0].shape[:2]
    if any(im.shape[:2] != (tile_h, tile_w) for im in images):
        raise ValueError("make_grid needs tiles of one size")
    cols = max(1, min(int(columns), len(images)))
    rows = math.ceil(len(images) / cols)
    grid = np.empty((rows * tile_h + (rows + 1) * gap, cols * tile_w + (cols + 1) * gap, 3), dtype=np.uint8)
    grid[:] = background
    for i, tile in enumerate(images):
        r, c = divmod(i, cols)
        top, left = gap + r * (tile_h + gap), gap + c * (tile_w + gap)
        grid[top:top + tile_h, left:left + tile_w] = tile if tile.ndim == 3 else tile[..., None]
    return grid


def placeholder(text: str, width: int = 320, height: int = 80) -> np.ndarray:
    """A plain image saying why there is nothing to show (no face found), so the output always exists."""
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    _text(image, text, (10, height // 2 + 6), 0.55, (0, 0, 0))
    return image
