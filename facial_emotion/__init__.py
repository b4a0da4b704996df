"""Facial emotion recognition on FER2013: the library behind the DVC stages, demo and web service,
and a light API for using a trained model (`from facial_emotion import EmotionRecognizer`)."""

__version__ = "0.1.0"

__all__ = ["EmotionRecognizer", "Face", "__version__"]


def __getattr__(name: str):
    """The API on first use only: importing the package loads nothing (no OpenCV, no model)."""
    if name in ("EmotionRecognizer", "Face"):
        from .inference import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
