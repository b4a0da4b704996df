"""The top-k ensemble, the champion's model and its registration in the MLflow Model Registry."""

from __future__ import annotations

import logging

import numpy as np

from ..data.dataset import FaceDataset
from ..models.store import KERAS_FILE, load_keras_model, log_model, model_dir
from .scoring import Scored, headline, score

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble"


def add_ensemble(scored: Scored, val: FaceDataset, test: FaceDataset, cfg, primary: str) -> None:
    """The mean of the top-k CNNs by validation (`evaluate.ensemble_top_k`), saved as one Keras model."""
    from .ensemble import build_ensemble, with_flip_tta
    from .selection import rank_by_validation

    cnns = [n for n in rank_by_validation(scored.metrics, cfg.select_by) if n.startswith("cnn-")]
    members = cnns[: cfg.ensemble_top_k]
    if len(members) < 2:
        return
    ensemble = build_ensemble([load_keras_model(model_dir(n) / KERAS_FILE) for n in members])
    if cfg.tta_flip:
        ensemble = with_flip_tta(ensemble, name="ensemble_fliptta")
    folder = model_dir(ENSEMBLE)
    folder.mkdir(parents=True, exist_ok=True)
    ensemble.save(folder / KERAS_FILE)
    p_val, p_test = (np.mean([scored.probabilities[n][i] for n in members], axis=0) for i in (0, 1))
    scored.probabilities[ENSEMBLE] = (p_val, p_test)
    scored.metrics[ENSEMBLE] = score(p_val, val, p_test, test, primary)
    scored.run_infos[ENSEMBLE] = {"model_name": ENSEMBLE, "kind": "keras", "members": members, "run_id": None,
                                  "model_uri": None}
    log.info("%-24s validation %s (members: %s)", ENSEMBLE, headline(scored.metrics[ENSEMBLE]), ", ".join(members))


def register_champion(champion: str, scored: Scored, val: FaceDataset, cfg, registered_name: str, git_commit: str):
    """The champion in the Model Registry with the alias `champion`: its own logged model, or one logged
    here for an ensemble, a TTA model or a training run that is gone. A champion whose validation
    predictions match the current version's adds no new version."""
    from .registry import fingerprint, needs_new_version, register

    champion_print = fingerprint(champion, scored.probabilities[champion][0])
    model_uri = scored.run_infos[champion].get("model_uri")
    new_model = needs_new_version(registered_name, champion_print)
    if new_model and (champion == ENSEMBLE or cfg.tta_flip or not _logged_model_exists(model_uri)):
        from .ensemble import champion_model

        model_uri = log_model(champion_model(champion, cfg.tta_flip), f"champion-{champion}", val.images[:4])
    return register(registered_name, model_uri, champion_print,
                    {"model_name": champion, "select_by": cfg.select_by,
                     f"validation_{cfg.select_by}": f"{scored.metrics[champion]['validation'][cfg.select_by]:.4f}",
                     "data_source": val.source, "git_commit": git_commit})


def _logged_model_exists(model_uri: str | None) -> bool:
    import mlflow

    if not model_uri:
        return False
    try:
        mlflow.get_logged_model(model_uri.removeprefix("models:/"))
        return True
    except mlflow.exceptions.MlflowException:
        return False
