"""Figures of the classification reports and of reports/index.html, as matplotlib Figure objects
(no pyplot state; render with facial_emotion.notebooks.show_figure or figure_png)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..eda.figures import thumbnails
from ..labels import EMOTIONS
from .analysis import Reliability

SPLIT_COLOURS = {"validation": "#4c72b0", "test": "#dd8452"}
TRAIN_COLOUR, VALIDATION_COLOUR = "#4c72b0", "#dd8452"


def confusion(normalised: np.ndarray, counts: np.ndarray, title: str, classes: tuple[str, ...] = EMOTIONS) -> Figure:
    """Heatmap of the row-normalised confusion matrix, each cell with its share and its count."""
    n = len(classes)
    fig = Figure(figsize=(7.2, 6.0))
    ax = fig.add_subplot()
    image = ax.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
    for r in range(n):
        for c in range(n):
            value = normalised[r, c]
            ax.text(c, r, f"{value:.0%}\n({counts[r, c]})", ha="center", va="center", fontsize=8.5,
                    color="white" if value > 0.55 else "black")
    ax.set_xticks(range(n), classes, rotation=35, ha="right")
    ax.set_yticks(range(n), [f"{name} ({counts[i].sum()})" for i, name in enumerate(classes)])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (faces)")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03, label="share of the true class")
    fig.tight_layout()
    return fig


def f1_bars(f1_by_split: dict[str, np.ndarray], macro_by_split: dict[str, float],
            classes: tuple[str, ...] = EMOTIONS) -> Figure:
    """Per-class F1 for each split as grouped bars, each split's macro F1 as a dashed line."""
    fig = Figure(figsize=(9, 4.0))
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    width = 0.8 / max(1, len(f1_by_split))
    for i, (split, values) in enumerate(f1_by_split.items()):
        colour = SPLIT_COLOURS.get(split, "#55a868")
        offset = (i - (len(f1_by_split) - 1) / 2) * width
        bars = ax.bar(x + offset, values, width=width * 0.95, color=colour, label=split)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
        if split in macro_by_split:
            ax.axhline(macro_by_split[split], color=colour, linestyle="--", linewidth=1.2,
                       label=f"{split} macro F1 {macro_by_split[split]:.3f}")
    ax.set_xticks(x, classes)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("F1")
    ax.set_title("F1 per class")
    ax.legend(frameon=False, ncols=2, fontsize=9, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def training_curves(history: pd.DataFrame, best: int | None = None) -> Figure:
    """Loss and accuracy per epoch (training and validation) and the learning rate, best epoch marked."""
    has_lr = "learning_rate" in history.columns and history["learning_rate"].notna().any()
    fig = Figure(figsize=(13 if has_lr else 9.5, 3.8))
    axes = fig.subplots(1, 3 if has_lr else 2)
    epochs = history["epoch"].to_numpy()
    for ax, key, title in ((axes[0], "loss", "Loss"), (axes[1], "accuracy", "Accuracy")):
        ax.plot(epochs, history[key], marker="o", markersize=3, color=TRAIN_COLOUR, label="training")
        ax.plot(epochs, history[f"val_{key}"], marker="o", markersize=3, color=VALIDATION_COLOUR, label="validation")
        ax.set_title(title)
    if has_lr:
        axes[2].plot(epochs, history["learning_rate"], marker="o", markersize=3, color="#55a868")
        axes[2].set_yscale("log")
        axes[2].set_title("Learning rate")
    for ax in axes:
        if best is not None:
            ax.axvline(best, color="#888888", linestyle=":", linewidth=1.2, label=f"kept: epoch {best}")
        ax.set_xlabel("epoch")
        ax.spines[["top", "right"]].set_visible(False)
    axes[1].set_ylim(0, 1)
    axes[0].legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def mistakes_gallery(images: np.ndarray, captions: Sequence[str], n_cols: int = 8) -> Figure:
    """The most confident mistakes as a grid of faces, captioned with the truth and the prediction."""
    return thumbnails(images, captions, n_cols=n_cols)


def reliability_diagram(curve: Reliability, title: str) -> Figure:
    """Accuracy against confidence per bin beside the diagonal of perfect calibration, and how many
    predictions each confidence bin holds."""
    fig = Figure(figsize=(10, 4.2))
    diagram, histogram = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    diagram.plot([0, 1], [0, 1], color="#888888", linestyle="--", linewidth=1, label="perfectly calibrated")
    diagram.plot(curve.mean_confidence, curve.accuracy, marker="o", color="#c44e52",
                 label=f"this model (ECE {curve.ece:.3f})")
    diagram.set_xlim(0, 1)
    diagram.set_ylim(0, 1)
    diagram.set_aspect("equal")
    diagram.set_xlabel("confidence (top probability)")
    diagram.set_ylabel("accuracy")
    diagram.set_title(title)
    diagram.legend(frameon=False, fontsize=9, loc="upper left")
    widths = np.diff(curve.bin_edges)
    histogram.bar(curve.bin_edges[:-1], curve.counts, width=widths * 0.95, align="edge", color="#8172b3")
    histogram.set_xlim(0, 1)
    histogram.set_xlabel("confidence (top probability)")
    histogram.set_ylabel("predictions")
    histogram.set_title("Predictions per confidence bin")
    for ax in (diagram, histogram):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def f1_heatmap(models: Sequence[str], f1_by_split: dict[str, np.ndarray],
               classes: tuple[str, ...] = EMOTIONS) -> Figure:
    """Per-class F1 of every model (rows) for each split (panels), annotated: the index page's overview."""
    n_models = len(models)
    panels = list(f1_by_split)
    fig = Figure(figsize=(6.4 * len(panels) + 0.8, 0.42 * n_models + 1.6))
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    image = None
    for ax, split in zip(axes, panels):
        values = np.asarray(f1_by_split[split], dtype=np.float64).reshape(n_models, len(classes))
        image = ax.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        for r in range(n_models):
            for c in range(len(classes)):
                value = values[r, c]
                ax.text(c, r, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center",
                        fontsize=8.5, color="black" if value > 0.6 else "white")
        ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
        ax.set_title(f"{split} F1 per class")
        ax.tick_params(length=0)
    axes[0].set_yticks(range(n_models), models)
    if image is not None:
        fig.colorbar(image, ax=axes.tolist(), fraction=0.025, pad=0.02, label="F1")
    return fig
