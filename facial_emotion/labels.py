"""The seven FER2013 classes, in label order, and the folder-name aliases people use for them."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)
IMAGE_SIZE = 48
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")

# Kaggle's folder layout and papers spell the classes differently; all map to one label.
_ALIASES: dict[str, int] = {
    "anger": 0, "angry": 0, "mad": 0,
    "disgust": 1, "disgusted": 1, "disgusting": 1,
    "fear": 2, "fearful": 2, "afraid": 2, "scared": 2,
    "happiness": 3, "happy": 3, "joy": 3,
    "sadness": 4, "sad": 4,
    "surprise": 5, "surprised": 5,
    "neutral": 6, "neutrality": 6, "calm": 6,
}


def label_for_folder(name: str) -> int | None:
    """Label for a class folder name (case-insensitive, aliases allowed); None when unknown."""
    return _ALIASES.get(name.strip().lower())
