"""Package a trained model as the shipped pretrained model and write its card's figures.

    python -m facial_emotion.pretrained.build models/cnn-none-relu --fer2013 data/raw/fer2013.csv.gz \\
        --recipe recipes/cpu.yaml --commit <training commit> --validation-json scores.json
    python -m facial_emotion.pretrained.build models/cnn-none-relu --which ferplus --fer2013 data/raw/fer2013.csv.gz \\
        --ferplus data/raw/fer2013new.csv --recipe recipes/ferplus.yaml --commit <commit> --validation-json scores.json

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
from ..labels import classes_for
from . import SHIPPED, TEST_USAGES

log = logging.getLogger("facial_emotion.pretrained")

CARD_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "rows")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def score_test_rows(model_file: Path, fer2013: Path, votes: Path | None = None,
                    test_usages: tuple[str, ...] = TEST_USAGES) -> dict[str, dict[str, dict[str, float]]]:
    """{label set: {split: metrics}}: accuracy and F1 of the model on FER2013's test rows (`test`: the
    rows of `test_usages`, then PublicTest and PrivateTest alone), against FER2013's labels and, with
    FER+'s `votes` file, against FER+'s majority (data/label_sets.py's rules, both label sets)."""
    from ..data import ferplus
    from ..data.fer_csv import read_fer_csv
    from ..data.label_sets import label_sets
    from ..evaluation.label_scores import align
    from ..evaluation.metrics import compute_metrics
    from ..models.store import load_keras_model, predict_in_batches

    dataset, _ = read_fer_csv(fer2013)
    if votes is not None:
        vote_rows, vote_usage = ferplus.read_votes(votes)
        dataset.votes = ferplus.align_votes(vote_rows, vote_usage, len(dataset) + int(sum(dataset.rejected.values())),
                                            dataset.rows, dataset.usage, str(votes), str(fer2013))
    test = dataset.subset(np.flatnonzero(np.isin(dataset.usage, TEST_USAGES)))
    probabilities = predict_in_batches(load_keras_model(model_file), test.images)
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for name, subset in label_sets(test).items():
        usage = test.usage[subset.index]
        for split, usages in (("test", test_usages), *((u, (u,)) for u in TEST_USAGES)):
            mask = np.isin(usage, usages)
            metrics = compute_metrics(subset.labels[mask], align(probabilities[subset.index][mask], subset.classes),
                                      subset.classes)
            scores.setdefault(name, {})[split] = {k: round(v, 4) if isinstance(v, float) else v
                                                  for k, v in metrics.items() if k in CARD_METRICS}
    return scores


def strip_optimizer(source: Path, target: Path) -> int:
    """Save the model's architecture and weights only; returns the parameter count. Loaded
    uncompiled: Keras 3's clone_model keeps the compile state, and the saved file kept AdamW's two
    slots and the EMA (3x the weights)."""
    from ..models.store import load_keras_model

    model = load_keras_model(source, compile=False)
    with atomic_path(target) as tmp:
        model.save(tmp)
    return int(model.count_params())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Package a trained model as a shipped pretrained model")
    parser.add_argument("model_dir", type=Path, help="a trained model folder, e.g. models/cnn-none-relu")
    parser.add_argument("--which", choices=sorted(SHIPPED), default="fer2013",
                        help="which shipped model it becomes (its label set)")
    parser.add_argument("--fer2013", type=Path, required=True, help="the FER2013 CSV the model was trained on")
    parser.add_argument("--ferplus", type=Path, help="FER+'s fer2013new.csv: also score against FER+'s majority")
    parser.add_argument("--recipe", type=Path, required=True, help="the param overrides it was trained with (YAML)")
    parser.add_argument("--commit", required=True, help="the commit that trained it")
    parser.add_argument("--validation-json", type=Path, required=True,
                        help="score_model --json output for the model (its validation figures)")
    parser.add_argument("--name", default=None, help="the card's name (default: the recipe's)")
    args = parser.parse_args(argv)
    import yaml

    for path in (args.model_dir / "model.keras", args.fer2013, args.recipe, args.validation_json, args.ferplus):
        if path is not None and not path.exists():
            raise PipelineError(f"{path}: not found")
    shipped, recipe = SHIPPED[args.which], yaml.safe_load(args.recipe.read_text())
    overrides = recipe.get("params", recipe)
    labels, split = overrides.get("labels.source", "fer2013"), overrides.get("split.strategy", "official")
    if labels != args.which:
        raise PipelineError(f"{args.recipe}: trains on {labels} labels, but --which is {args.which}")
    # FER+'s own split validates on PublicTest: its test is PrivateTest alone.
    test_usages = ("PrivateTest",) if split == "challenge" else TEST_USAGES
    run = read_json(args.model_dir / "mlflow_run.json")
    validation = read_json(args.validation_json)[args.model_dir.name]["scores"]["validation"]
    parameters = strip_optimizer(args.model_dir / "model.keras", shipped.keras_file)
    scores = score_test_rows(shipped.keras_file, args.fer2013, args.ferplus, test_usages)
    card: dict[str, Any] = {
        "name": args.name or recipe.get("name", args.which),
        "file": shipped.keras_file.name,
        "file_sha256": sha256_file(shipped.keras_file),
        "network": f"compact CNN, {parameters:,} parameters",
        "parameters": parameters,
        "labels": labels,
        "classes": list(classes_for(labels)),
        "split": split,
        "test_rows": " + ".join(test_usages),
        "data_sha256": sha256_file(args.fer2013),
        "data_file": args.fer2013.name,
        **({"ferplus_sha256": sha256_file(args.ferplus), "ferplus_file": args.ferplus.name} if args.ferplus else {}),
        "commit": args.commit,
        "recipe": overrides,
        "training": {k: run.get(k) for k in ("epochs_run", "kept_epoch", "train_seconds", "restore")},
        "scores": {"validation": {k: round(validation[k], 4) for k in CARD_METRICS}, **scores.pop(labels)},
        **{f"scores_{other}": values for other, values in scores.items()},
    }
    write_json(shipped.card_json, card)
    log.info("wrote %s (%.2f MB) and %s: test accuracy %.4f, macro-F1 %.4f", shipped.keras_file,
             shipped.keras_file.stat().st_size / 1e6, shipped.card_json, card["scores"]["test"]["accuracy"],
             card["scores"]["test"]["macro_f1"])
    from .export import export_shipped

    export_shipped(args.fer2013, args.which)  # the ONNX copy the light runtime loads, checked on the test rows


if __name__ == "__main__":
    run_main(main)
