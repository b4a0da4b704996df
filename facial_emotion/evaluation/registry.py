"""The MLflow Model Registry side: one registered model, the alias `champion` on its best version.

A new version is made only when the champion's model actually changed (its fingerprint, the
rounded validation probabilities, differs), so rerunning evaluate with nothing changed adds none.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

ALIAS = "champion"


def champion_uri(registered_name: str) -> str:
    """The MLflow URI every consumer loads the champion by: `models:/<registered model>@champion`."""
    return f"models:/{registered_name}@{ALIAS}"


@dataclass
class Registration:
    name: str
    version: str
    created: bool
    model_uri: str


def fingerprint(model_name: str, validation_probabilities: np.ndarray) -> str:
    """What the model does on validation, hashed: same weights give the same fingerprint."""
    rounded = np.round(np.asarray(validation_probabilities, dtype=np.float64), 4)
    return hashlib.sha256(model_name.encode() + b"\0" + rounded.tobytes()).hexdigest()


def current_champion(registered_name: str):
    """The model version the alias points at, or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(registered_name, ALIAS)
    except MlflowException:
        return None


def needs_new_version(registered_name: str, model_fingerprint: str) -> bool:
    current = current_champion(registered_name)
    return current is None or current.tags.get("fingerprint") != model_fingerprint


def register(registered_name: str, model_uri: str, model_fingerprint: str, tags: dict[str, str]) -> Registration:
    """Register `model_uri` unless the alias already points at the same model; move the alias."""
    import mlflow
    from mlflow import MlflowClient

    current = current_champion(registered_name)
    if current is not None and current.tags.get("fingerprint") == model_fingerprint:
        log.info("champion unchanged: %s version %s", registered_name, current.version)
        return Registration(registered_name, str(current.version), False, champion_uri(registered_name))
    version = mlflow.register_model(model_uri, registered_name, tags={**tags, "fingerprint": model_fingerprint})
    client = MlflowClient()
    client.set_registered_model_alias(registered_name, ALIAS, version.version)
    client.update_registered_model(
        registered_name,
        description="Facial emotion classifier (7 FER2013 classes). Input: uint8 faces (n, 48, 48, 1), raw 0-255; "
                    "output: 7 probabilities in label order "
                    "anger, disgust, fear, happiness, sadness, surprise, neutral.",
    )
    log.info("registered %s version %s (alias %s)", registered_name, version.version, ALIAS)
    return Registration(registered_name, str(version.version), True, champion_uri(registered_name))
