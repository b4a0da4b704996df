"""The start-up the webcam demo and the web service share: params.yaml read and checked once (the
schema's defaults when there is none), then the model they answer with: the one named on the
command line, else the registered champion (the shipped model when the registry has none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..params import ParamsError, defaults
from ..params.demo import DemoSection, ServeSection

if TYPE_CHECKING:
    from .emotion_classifier import EmotionClassifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppParams:
    """What the demo and the service read of params.yaml, as its schema typed it."""

    seed: int
    experiment: str | None  # mlflow.experiment; None (no params.yaml): tracking's default
    registered_model: str   # registry.model_name: the champion is models:/<it>@champion
    demo: DemoSection
    serve: ServeSection


def read_app_params(path: str | Path = "params.yaml", missing_ok: bool = True) -> AppParams:
    """params.yaml's values when the file exists (a problem in it is one ParamsError line), else the
    defaults, said in the log. A file the user named (`missing_ok` False) must exist: a typo in
    `--params` is an error, not a run on the defaults."""
    if not Path(path).exists():
        if not missing_ok:
            raise ParamsError(f"{path}: params file not found")
        log.info("%s not found: using the shipped defaults (facial_emotion/params/defaults.py)", path)
        return AppParams(defaults.SEED, None, defaults.REGISTRY.model_name, defaults.DEMO, defaults.SERVE)
    from ..params import read_params

    params = read_params(path)
    return AppParams(params.seed, params.mlflow.experiment, params.registry.model_name, params.demo, params.serve)


def load_model(model: str | None, app: AppParams) -> EmotionClassifier:
    """`model` (an MLflow URI, or an .onnx or .keras file, which needs no MLflow) when given, else
    the registered champion, or the shipped model when there is none."""
    from .classifier import load_classifier, load_default_classifier

    if not (model or "").endswith((".keras", ".onnx")):
        from .. import tracking

        tracking.configure(app.experiment or tracking.DEFAULT_EXPERIMENT)
    return load_classifier(model) if model else load_default_classifier(app.registered_model)
