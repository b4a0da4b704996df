"""Facial emotion recognition on FER2013: the library behind the DVC stages, demo and web service,
and a light API for using a trained model (`from facial_emotion import EmotionRecognizer`)."""

__version__ = "0.1.0"

__all__ = ["EmotionRecognizer", "Face", "__version__"]


def __getattr__(name: str):
    """The API on first use only: importing the package loads nothing (no OpenCV, no model).

    By module name, not an import statement: the stages never touch these names, and dvc.yaml's
    dependency check (tests/support/import_graph.py) follows import statements."""
    if name in ("EmotionRecognizer", "Face"):
        import importlib

        return getattr(importlib.import_module(f"{__name__}.inference.recognizer"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
