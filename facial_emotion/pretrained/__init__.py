"""The pretrained models shipped with the package, trained on real FER2013 with the project's recipes:
one on FER+'s ten votes per face (8 classes with contempt) and one on FER2013's single labels (7),
each as Keras (for the pipeline) and as ONNX (for ONNX Runtime: the API, CLI, demo and service).

The demo, the web service and the API use `DEFAULT` when the registry holds no champion, so a fresh
clone classifies real faces before any training; README.md says why that one. Each has a card
(MODEL_CARD*.md, figures in card*.json): what it was trained on, how it scored, where it fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Shipped:
    """One shipped model's files."""

    name: str  # its label set: fer2013 | ferplus
    keras_file: Path
    onnx_file: Path  # the same network exported (export.py), run without TensorFlow
    card_json: Path
    card_file: Path

    def card(self) -> dict[str, Any]:
        """The card's figures: data sha256, commit, params, validation and test scores."""
        return json.loads(self.card_json.read_text(encoding="utf-8"))

    def summary(self) -> str:
        """One line for logs and /health: what the shipped model is and how it scored."""
        figures = self.card()
        test = figures["scores"]["test"]
        labels = "FER+ majority" if figures.get("labels") == "ferplus" else "FER2013 labels"
        return (f"{figures['name']}: {figures['network']}, trained on real FER2013 ({labels}, {figures['split']} "
                f"split), test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}; see "
                f"{self.card_file}")


SHIPPED = {
    "ferplus": Shipped("ferplus", HERE / "ferplus_recipe.keras", HERE / "ferplus_recipe.onnx",
                       HERE / "card_ferplus.json", HERE / "MODEL_CARD_ferplus.md"),
    "fer2013": Shipped("fer2013", HERE / "fer2013_cpu_recipe.keras", HERE / "fer2013_cpu_recipe.onnx",
                       HERE / "card.json", HERE / "MODEL_CARD.md"),
}
DEFAULT = "ferplus"  # the one the measurements favour: README.md, "The shipped models"
TEST_USAGES = ("PublicTest", "PrivateTest")  # FER2013's rows the cards' test figures and the ONNX parity check use

MODEL_FILE = SHIPPED[DEFAULT].keras_file
ONNX_FILE = SHIPPED[DEFAULT].onnx_file
CARD_FILE = SHIPPED[DEFAULT].card_file
CARD_JSON = SHIPPED[DEFAULT].card_json


def card() -> dict[str, Any]:
    """The default shipped model's card figures."""
    return SHIPPED[DEFAULT].card()


def summary() -> str:
    """One line for logs and /health about the default shipped model."""
    return SHIPPED[DEFAULT].summary()
