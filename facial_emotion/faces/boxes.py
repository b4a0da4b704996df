"""Box arithmetic shared by the detectors, the tracker and the benchmark: boxes are (x, y, w, h)."""

from __future__ import annotations

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in `a` [n, 4] with every box in `b` [m, 4] -> [n, m]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter_w = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    inter_h = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = inter_w * inter_h
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def largest_first(boxes: np.ndarray) -> np.ndarray:
    """The order (indices) that puts the biggest box first; ties keep their order."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    return np.argsort(-(boxes[:, 2].astype(np.int64) * boxes[:, 3]), kind="stable")


def suppress_overlaps(boxes: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Indices to keep: the first of boxes overlapping by more than `threshold` IoU (one face found twice)."""
    keep: list[int] = []
    overlaps = iou(boxes, boxes)
    for i in range(len(overlaps)):
        if all(overlaps[i, j] <= threshold for j in keep):
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def merge_overlaps(boxes: np.ndarray, threshold: float, contained: float) -> np.ndarray:
    """Indices to keep, boxes ordered best first: a box is dropped when it overlaps a kept one by
    more than `threshold` IoU, or when more than `contained` of its area lies inside a kept one."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    overlaps = iou(boxes, boxes)
    x1, y1 = boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]
    inter_w = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0]), 0, None)
    inter_h = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1]), 0, None)
    inside = inter_w * inter_h / np.maximum(boxes[:, 2] * boxes[:, 3], 1.0)[:, None]  # [i, j]: share of i inside j
    keep: list[int] = []
    for i in range(len(boxes)):
        if all(overlaps[i, j] <= threshold and inside[i, j] <= contained for j in keep):
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def search_window(box: np.ndarray, search: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The box grown by `search` of its size on every side, clipped to the frame, as (x0, y0, x1, y1)."""
    x, y, w, h = (int(v) for v in box)
    pad_x, pad_y = int(round(w * search)), int(round(h * search))
    return max(0, x - pad_x), max(0, y - pad_y), min(width, x + w + pad_x), min(height, y + h + pad_y)
