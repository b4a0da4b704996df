"""Package a trained model as the shipped pretrained model and write its card's figures.

    python -m facial_emotion.pretrained.build models/cnn-none-relu --fer2013 data/raw/fer2013.csv.gz \\
        --recipe recipes/cpu.yaml --commit <training commit> --validation-json scores.json

The optimizer state is dropped (a third of the size; inference does not need it). Test figures are
scored here on FER2013's PublicTest and PrivateTest rows, the same way `tests/data` re-checks them.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..cli import run_main
from ..errors import PipelineError
from ..files import atomic_path, read_json, write_json
from . import CARD_JSON, MODEL_FILE

log = logging.getLogger("facial_emotion.pretrained")

TEST_USAGES = ("PublicTest", "PrivateTest")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def score_test_rows(model_file: Path, fer2013: Path) -> dict[str, dict[str, float]]:
    """Accuracy and F1 of the model on the official test rows: both together, and each alone."""
    from ..data.fer_csv import read_fer_csv
    from ..evaluation.metrics import compute_metrics
    from ..models.store import load_keras_model, predict_in_batches

    dataset, _ = read_fer_csv(fer2013)
    model = load_keras_model(model_file)
    scores = {}
    for name, usages in (("test", TEST_USAGES), *((u, (u,)) for u in TEST_USAGES)):
        mask = np.isin(dataset.usage, usages)
        probabilities = predict_in_batches(model, dataset.images[mask])
        metrics = compute_metrics(dataset.labels[mask], probabilities)
        scores[name] = {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()
                        if k in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "rows")}
    return scores


def strip_optimizer(source: Path, target: Path) -> int:
    """Save the model's architecture and weights only; returns the parameter count."""
    import keras

    from ..models.store import load_keras_model

    model = load_keras_model(source)
    bare = keras.models.clone_model(model)
    bare.set_weights(model.get_weights())
    with atomic_path(target) as tmp:
        bare.save(tmp)
    return int(model.count_params())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Package a trained model as the shipped pretrained model")
    parser.add_argument("model_dir", type=Path, help="a trained model folder, e.g. models/cnn-none-relu")
    parser.add_argument("--fer2013", type=Path, required=True, help="the FER2013 CSV the model was trained on")
    parser.add_argument("--recipe", type=Path, required=True, help="the param overrides it was trained with (YAML)")
    parser.add_argument("--commit", required=True, help="the commit that trained it")
    parser.add_argument("--validation-json", type=Path, required=True,
                        help="score_model --json output for the model (its validation figures)")
    parser.add_argument("--name", default="fer2013-cpu-recipe")
    args = parser.parse_args(argv)
    import yaml

    for path in (args.model_dir / "model.keras", args.fer2013, args.recipe, args.validation_json):
        if not path.exists():
            raise PipelineError(f"{path}: not found")
    run = read_json(args.model_dir / "mlflow_run.json")
    validation = read_json(args.validation_json)[args.model_dir.name]["scores"]["validation"]
    parameters = strip_optimizer(args.model_dir / "model.keras", MODEL_FILE)
    card: dict[str, Any] = {
        "name": args.name,
        "file": MODEL_FILE.name,
        "file_sha256": sha256_file(MODEL_FILE),
        "network": f"compact CNN, {parameters:,} parameters",
        "parameters": parameters,
        "split": "official",
        "data_sha256": sha256_file(args.fer2013),
        "data_file": args.fer2013.name,
        "commit": args.commit,
        "recipe": yaml.safe_load(args.recipe.read_text()),
        "training": {k: run.get(k) for k in ("epochs_run", "kept_epoch", "train_seconds", "restore")},
        "scores": {"validation": {k: round(validation[k], 4) for k in
                                  ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")}
                   | {"rows": int(validation["rows"])},
                   **score_test_rows(MODEL_FILE, args.fer2013)},
    }
    write_json(CARD_JSON, card)
    log.info("wrote %s (%.2f MB) and %s: test accuracy %.4f, macro-F1 %.4f", MODEL_FILE,
             MODEL_FILE.stat().st_size / 1e6, CARD_JSON, card["scores"]["test"]["accuracy"],
             card["scores"]["test"]["macro_f1"])
    from .export import export_shipped

    export_shipped(args.fer2013)  # the ONNX copy the light runtime loads, checked on the same test rows


if __name__ == "__main__":
    run_main(main)
