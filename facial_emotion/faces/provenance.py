"""What a model was trained on, and the one rule about it: a model trained on synthetic faces is
never used on real photos without a word.

`dvc repro` on a fresh clone trains on generated faces and registers the best as the champion; it
has never seen a real face, so its answers on a photo mean little. The evaluate stage tags the
registry version with its `data_source` (and training runs carry the same tag), which is read here.
The demo, the service and the API all pick their model through `classifier.load_default_classifier`,
which asks `prefer_shipped` whether to pass over the champion; one that is used anyway (asked for
by name) carries `warning`, logged once and returned in every answer.
"""

from __future__ import annotations

import re

SYNTHETIC = "synthetic"
SHIPPED_DATA = "fer2013"  # the shipped pretrained models: trained on real FER2013 faces (FER2013 or FER+ labels)


def data_source(uri: str) -> str | None:
    """The `data_source` tag of the registry version (`models:/<name>@<alias>`, `models:/<name>/<n>`)
    or of the run (`runs:/<id>/...`) behind `uri`; None when it has none or cannot be asked."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        if match := re.fullmatch(r"models:/([^@/]+)@([^/]+)/?", uri):
            return client.get_model_version_by_alias(*match.groups()).tags.get("data_source")
        if match := re.fullmatch(r"models:/([^@/]+)/(\d+)/?", uri):
            return client.get_model_version(*match.groups()).tags.get("data_source")
        if match := re.match(r"runs:/([0-9a-f]+)/", uri):
            return client.get_run(match.group(1)).data.tags.get("data_source")
    except MlflowException:
        return None
    return None


def synthetic_warning(uri: str) -> str:
    """The one line said in the log and in every answer of a model trained on synthetic faces."""
    return (f"{uri} was trained on SYNTHETIC faces only and has never seen a real face: its answers on real "
            "photos mean little (train on FER2013, or leave out --model to use the shipped pretrained model)")


def prefer_shipped(champion_source: str | None) -> bool:
    """The default model: the registered champion, unless it was trained on synthetic data, when the
    pretrained model shipped with the package (trained on real FER2013) is the better guess."""
    return champion_source == SYNTHETIC
