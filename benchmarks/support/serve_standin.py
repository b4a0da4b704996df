"""An untrained stand-in champion in a throwaway MLflow store: the service, its tests and its load
benchmark run the real loading path (`models:/<name>@champion`) without a trained pipeline.

    python -m benchmarks.support.serve_standin --store /tmp/standin   # prints the env line and model URI

The model is what every trained model is to the service: raw uint8 (N, 48, 48, 1) in, (N, 7)
probabilities out, scaling inside, logged with the same kind of signature as the train stage's.
Its probabilities mean nothing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from facial_emotion.labels import IMAGE_SIZE, NUM_CLASSES
from facial_emotion.models.store import keras_pip_requirements

DEFAULT_NAME = "facial-emotion"
ALIAS = "champion"
EXPERIMENT = "serve-standin"


def store_uri(store: str | Path) -> str:
    """The SQLite tracking (and registry) URI of a stand-in store folder."""
    return f"sqlite:///{Path(store).resolve() / 'mlflow.db'}"


def build_model(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1)),
        keras.layers.Rescaling(1.0 / 255),
        keras.layers.Flatten(),
        keras.layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="standin")


def register(store: str | Path, name: str = DEFAULT_NAME, seed: int = 0, data_source: str | None = None) -> str:
    """Log the stand-in to `store`, register it as `name` with alias champion (its version tagged
    with `data_source`, as the evaluate stage tags it, when given); returns the URI.

    Points this process's MLflow at the store (MLFLOW_TRACKING_URI), so run it in its own process.
    """
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from facial_emotion import tracking

    store = Path(store).resolve()
    store.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = store_uri(store)
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    tracking.configure(EXPERIMENT, root=store)
    model = build_model(seed)
    sample = np.zeros((2, IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.uint8)
    with mlflow.start_run(run_name="serve-standin"):
        info = mlflow.keras.log_model(model, name="model", pip_requirements=keras_pip_requirements(),
                                      signature=infer_signature(sample, model.predict(sample, verbose=0)))
    version = mlflow.register_model(info.model_uri, name, tags={"data_source": data_source} if data_source else None)
    MlflowClient().set_registered_model_alias(name, ALIAS, version.version)
    return f"models:/{name}@{ALIAS}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.support.serve_standin",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True,
                        help="folder for the throwaway MLflow store (mlflow.db, mlartifacts/)")
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"registered model name (default: {DEFAULT_NAME})")
    parser.add_argument("--data-source", default=None,
                        help="tag the version as trained on this data (synthetic, fer2013); default: no tag")
    args = parser.parse_args(argv)
    uri = register(args.store, args.name, data_source=args.data_source)
    print(f"MLFLOW_TRACKING_URI={store_uri(args.store)}")
    print(uri)


if __name__ == "__main__":
    from facial_emotion.cli import run_main

    run_main(main)
