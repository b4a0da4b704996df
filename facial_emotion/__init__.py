"""Facial emotion recognition on FER2013: the library behind the DVC stages, demo and web service."""

__version__ = "0.1.0"
