"""The pretrained model shipped with the package: the CPU recipe's network trained on real FER2013,
as Keras (for the pipeline) and as ONNX (for ONNX Runtime: the API, CLI, demo and service).

The demo and the web service fall back to it when the registry holds no champion, so a fresh
clone classifies real faces before any training. Its card (MODEL_CARD.md, figures in card.json)
says what it was trained on, how it scored and where it fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODEL_FILE = HERE / "fer2013_cpu_recipe.keras"
ONNX_FILE = HERE / "fer2013_cpu_recipe.onnx"  # the same network exported (export.py), run without TensorFlow
CARD_FILE = HERE / "MODEL_CARD.md"
CARD_JSON = HERE / "card.json"


def card() -> dict[str, Any]:
    """The card's figures: data sha256, commit, params, validation and test scores."""
    return json.loads(CARD_JSON.read_text(encoding="utf-8"))


def summary() -> str:
    """One line for logs and /health: what the shipped model is and how it scored."""
    figures = card()
    test = figures["scores"]["test"]
    return (f"{figures['name']}: {figures['network']}, trained on real FER2013 ({figures['split']} split), "
            f"test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}; see {CARD_FILE}")
