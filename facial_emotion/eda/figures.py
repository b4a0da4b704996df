"""Figures of the EDA report, as matplotlib Figure objects (no pyplot state, Agg-rendered).

Face grids are tiled into one mosaic image per figure instead of one axes per face: a
7 x 8 sample grid then costs one imshow, not 56 axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..labels import EMOTIONS, USAGES
from .statistics import PixelStatistics

USAGE_COLOURS = {"Training": "#4c72b0", "PublicTest": "#dd8452", "PrivateTest": "#55a868"}
CLASS_COLOURS = ("#c44e52", "#8c613c", "#8172b3", "#ccb974", "#4c72b0", "#64b5cd", "#7f7f7f")
_PAD = 3  # white pixels between tiles
_INCH_PER_TILE = 1.0  # a 48 px face shown about 100 px wide


def mosaic(tiles: np.ndarray, n_cols: int, pad: int = _PAD, fill: int = 255) -> np.ndarray:
    """Tile [k, h, w] images row-major into one image with `n_cols` columns and white gaps."""
    k, h, w = tiles.shape
    n_rows = max(1, -(-k // n_cols))
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), fill, dtype=np.float64)
    for i in range(k):
        r, c = divmod(i, n_cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = tiles[i]
    return out


def class_balance(table: pd.DataFrame) -> Figure:
    """Stacked bars of images per class, split by usage, with each class's total and share."""
    usages = [u for u in USAGES if u in table.columns]
    fig = Figure(figsize=(9, 4.2))
    ax = fig.add_subplot()
    x = np.arange(len(table))
    bottom = np.zeros(len(table))
    for usage in usages:
        ax.bar(x, table[usage].to_numpy(), bottom=bottom, color=USAGE_COLOURS.get(usage), label=usage, width=0.7)
        bottom += table[usage].to_numpy()
    for xi, total, share in zip(x, table["total"], table["share %"]):
        ax.annotate(f"{total:,}\n{share:.1f}%", (xi, total), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, table.index)
    ax.set_ylabel("images")
    ax.set_ylim(0, bottom.max() * 1.22 if bottom.max() else 1)
    ax.set_title("Images per class and usage")
    ax.legend(frameon=False, ncols=len(usages), loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def sample_grid(images: np.ndarray, indices_by_class: Sequence[np.ndarray], per_class: int) -> Figure:
    """One row of random faces per class, class names down the left."""
    h, w = images.shape[1:]
    rows = []
    for picks in indices_by_class:
        row = np.full((per_class, h, w), 255.0)
        row[: len(picks)] = images[picks]
        rows.append(row)
    grid = mosaic(np.concatenate(rows), per_class)
    fig = Figure(figsize=(per_class * _INCH_PER_TILE + 1.4, len(rows) * _INCH_PER_TILE))
    ax = fig.add_subplot()
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_yticks([r * (h + _PAD) + h / 2 for r in range(len(rows))],
                  [f"{name}\n({len(p)} shown)" if len(p) < per_class else name
                   for name, p in zip(EMOTIONS, indices_by_class)])
    ax.set_xticks([])
    ax.tick_params(length=0, labelsize=11)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.tight_layout()
    return fig


def mean_faces(means: np.ndarray, overall: np.ndarray) -> Figure:
    """Mean face per class (top) and its difference from the mean of all faces (bottom)."""
    n = len(means)
    diff = means - overall[None]
    limit = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
    fig = Figure(figsize=(1.55 * n, 3.7))
    axes = fig.subplots(2, n)
    for c in range(n):
        axes[0, c].imshow(means[c], cmap="gray", vmin=0, vmax=255, interpolation="bilinear")
        axes[0, c].set_title(EMOTIONS[c], fontsize=11)
        image = axes[1, c].imshow(diff[c], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="bilinear")
        for ax in axes[:, c]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("mean face")
    axes[1, 0].set_ylabel("minus overall\nmean")
    fig.colorbar(image, ax=axes[1, :].tolist(), shrink=0.8, label="pixel difference", pad=0.01)
    return fig


def pixel_intensity(stats: PixelStatistics, labels: np.ndarray) -> Figure:
    """Pixel-value distribution per class, and per-image brightness and contrast by class."""
    fig = Figure(figsize=(13, 4.2))
    hist_ax, bright_ax, contrast_ax = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1, 1]})
    levels = np.arange(256)
    overall = stats.overall_histogram
    if overall.sum():
        hist_ax.fill_between(levels, overall / overall.sum(), color="#dddddd", label="all", step="mid")
    for c, name in enumerate(EMOTIONS):
        hist = stats.histogram[c]
        if hist.sum():
            hist_ax.plot(levels, hist / hist.sum(), color=CLASS_COLOURS[c], lw=1.2, label=name)
    hist_ax.set_xlim(0, 255)
    hist_ax.set_xlabel("pixel value")
    hist_ax.set_ylabel("share of pixels")
    hist_ax.set_title("Pixel values")
    hist_ax.legend(fontsize=8, frameon=False, ncols=2)

    present = [c for c in range(len(EMOTIONS)) if (labels == c).any()]
    for ax, values, title in ((bright_ax, stats.image_mean, "Brightness (mean pixel per image)"),
                              (contrast_ax, stats.image_std, "Contrast (pixel std per image)")):
        ax.boxplot([values[labels == c] for c in present], orientation="horizontal", widths=0.6,
                   flierprops={"markersize": 2, "alpha": 0.4}, medianprops={"color": "black"})
        ax.set_yticks(range(1, len(present) + 1), [EMOTIONS[c] for c in present])
        ax.invert_yaxis()
        ax.set_title(title)
    bright_ax.set_xlim(0, 255)
    contrast_ax.set_xlim(left=0)
    for ax in (hist_ax, bright_ax, contrast_ax):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def thumbnails(images: np.ndarray, captions: Sequence[str], n_cols: int = 8,
               colours: Sequence[str] | None = None) -> Figure:
    """Faces in a grid, each framed (a white face stays visible) with a caption under it.

    An empty caption marks a placeholder slot: no frame, no text.
    """
    k = len(images)
    n_cols = max(1, min(n_cols, k))
    h, w = images.shape[1:]
    lines = max((caption.count("\n") + 1 for caption in captions if caption), default=1)
    caption_px = 6 + 7 * lines  # room under each face, in image pixels
    tiles = np.full((k, h + caption_px, w), 255.0)
    tiles[:, :h] = images
    grid = mosaic(tiles, n_cols)
    n_rows = -(-k // n_cols)
    fig = Figure(figsize=(n_cols * 1.4, n_rows * 1.4 * (h + caption_px) / w))
    ax = fig.add_subplot()
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    for i, caption in enumerate(captions):
        if not caption:
            continue
        r, c = divmod(i, n_cols)
        x, y = c * (w + _PAD), r * (h + caption_px + _PAD)
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="#888888", linewidth=0.8,
                               clip_on=False))
        ax.text(x + w / 2, y + h + 2, caption, ha="center", va="top", fontsize=9,
                color=(colours[i] if colours else "black"), linespacing=1.05)
    ax.set_axis_off()
    fig.tight_layout(pad=0.2)
    return fig


def face_caption(index: int, labels: np.ndarray, usage: np.ndarray) -> str:
    """`#index / label / usage`, the caption under a listed face (index = position in faces.npz)."""
    return f"#{index}\n{EMOTIONS[int(labels[index])]}\n{usage[index]}"


def duplicate_groups(images: np.ndarray, groups: Sequence[Sequence[int]], labels: np.ndarray,
                     usage: np.ndarray) -> Figure:
    """One row per group of identical images; captions in red where the copies disagree on the label."""
    width = max(len(g) for g in groups)
    tiles, captions, colours = [], [], []
    blank = np.full(images.shape[1:], 255, dtype=images.dtype)
    for group in groups:
        conflicting = len({int(labels[i]) for i in group}) > 1
        for slot in range(width):
            if slot < len(group):
                i = int(group[slot])
                tiles.append(images[i])
                captions.append(face_caption(i, labels, usage))
                colours.append("#b00020" if conflicting else "black")
            else:
                tiles.append(blank)
                captions.append("")
                colours.append("black")
    return thumbnails(np.stack(tiles), captions, n_cols=width, colours=colours)
