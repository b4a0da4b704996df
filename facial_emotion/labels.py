"""The class lists: FER2013's seven classes in label order, FER+'s eight (contempt added last), and
the folder-name aliases people use for them. A model's class list follows from its output size
(`class_names`), so 7- and 8-class models work side by side."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)
IMAGE_SIZE = 48
CONTEMPT = "contempt"  # FER+'s eighth class, after the seven FER2013 ones
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
# FER+ (Barsoum et al. 2016) adds contempt; kept last so the first seven indices mean what FER2013's do.
FERPLUS_EMOTIONS: tuple[str, ...] = (*EMOTIONS, CONTEMPT)
LABEL_SOURCES: tuple[str, ...] = ("fer2013", "ferplus")

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


def class_names(n: int) -> tuple[str, ...]:
    """The class names of a model with `n` outputs: FER2013's seven, or those and FER+'s contempt.

    A Keras model stores no class names, so this is the one place they are derived from its output
    size; an exported model carries its own (facial_emotion.inference.onnx_model).
    """
    if n == len(EMOTIONS):
        return EMOTIONS
    if n == len(FERPLUS_EMOTIONS):
        return FERPLUS_EMOTIONS
    raise ValueError(f"a model with {n} outputs: expected {NUM_CLASSES} (FER2013) or {NUM_CLASSES + 1} (FER+) classes")


def classes_for(source: str) -> tuple[str, ...]:
    """The classes a model trained on `labels.source` predicts."""
    return FERPLUS_EMOTIONS if source == "ferplus" else EMOTIONS
