"""The class lists: FER2013's seven classes in label order, FER+'s eight (contempt added last), and
the folder-name aliases people use for them. A model's class list follows from its output size
(`class_names`), so 7- and 8-class models work side by side."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)
IMAGE_SIZE = 48
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
# FER+ (Barsoum et al. 2016) adds contempt; kept last so the first seven indices mean what FER2013's do.
FERPLUS_EMOTIONS: tuple[str, ...] = (*EMOTIONS, "contempt")
LABEL_SOURCES: tuple[str, ...] = ("fer2013", "ferplus")


def class_names(num_classes: int) -> tuple[str, ...]:
    """The classes of a model with `num_classes` outputs: 7 (FER2013 labels) or 8 (FER+ labels)."""
    if num_classes == len(EMOTIONS):
        return EMOTIONS
    if num_classes == len(FERPLUS_EMOTIONS):
        return FERPLUS_EMOTIONS
    raise ValueError(f"a facial-emotion model has 7 (FER2013) or 8 (FER+) outputs, not {num_classes}")


def classes_for(source: str) -> tuple[str, ...]:
    """The classes a model trained on `labels.source` predicts."""
    return FERPLUS_EMOTIONS if source == "ferplus" else EMOTIONS

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
