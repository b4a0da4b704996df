"""Score trained models on validation and test without running the whole `evaluate` stage.

    python -m facial_emotion.evaluation.score_model cnn-none-relu [NAME ...] [--tta-flip] [--json FILE]

`evaluate` needs all eight models; a one-variant experiment (`dvc exp run ... train@none-relu`,
such as recipes/cpu.yaml) has one. This reads data/processed/{val,test}.npz and
models/<NAME>/, prints accuracy, balanced accuracy and F1 per split with the training time, and
logs the scores into the MLflow run that trained each model. It writes nothing DVC tracks.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..cli import run_main
from ..data.dataset import FaceDataset
from ..files import write_json
from ..paths import processed
from ..params import read_params
from .metrics import HEADLINE
from .scoring import log_scores_into_training_run, score_models

log = logging.getLogger("facial_emotion.score_model")


def score_named(names: list[str], tta_flip: bool = False) -> dict[str, dict]:
    """{name: {"scores": {split: metrics}, "run": the model's run info}} for each model folder, on
    every label set the split files have (`labels.source` in params.yaml is the unsuffixed one)."""
    val = FaceDataset.load(processed("val"))
    test = FaceDataset.load(processed("test"))
    if val.is_synthetic:
        log.warning("SYNTHETIC DATA: these scores are from the synthetic stand-in, not FER2013")
    scored = score_models(names, val, test, tta_flip, read_params().labels.source)
    return {name: {"scores": scored.metrics[name], "run": scored.run_infos[name], "data_source": val.source,
                   "tta_flip": tta_flip} for name in names}


def format_table(results: dict[str, dict]) -> str:
    lines = [f"{'model':<24} {'split':<22} {'rows':>6} " + " ".join(f"{k:>17}" for k in HEADLINE)]
    for name, result in results.items():
        for split, metrics in result["scores"].items():
            lines.append(f"{name:<24} {split:<22} {int(metrics['rows']):>6} "
                         + " ".join(f"{metrics[k]:>17.4f}" for k in HEADLINE))
        run = result["run"]
        if "train_seconds" in run:
            lines.append(f"{'':<24} trained {run['train_seconds'] / 60:.1f} min, {run.get('epochs_run', '?')} epochs "
                         f"(best {run.get('best_epoch', '?')}, "
                         f"kept {run.get('kept_epoch', run.get('best_epoch', '?'))})")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Score trained models on validation and test")
    parser.add_argument("names", nargs="+", help="model folders under models/, e.g. cnn-none-relu")
    parser.add_argument("--tta-flip", action="store_true", help="average each face with its mirror image")
    parser.add_argument("--json", type=Path, help="also write the scores to this JSON file")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the scores into the training runs")
    args = parser.parse_args(argv)
    results = score_named(args.names, args.tta_flip)
    print(format_table(results))
    if args.json:
        write_json(args.json, results)
    if not args.no_mlflow:
        from .. import tracking

        tracking.configure(read_params().mlflow.experiment)
        for name, result in results.items():
            scores = result["scores"] if not args.tta_flip else {f"{k}_tta": v for k, v in result["scores"].items()}
            if log_scores_into_training_run(result["run"].get("run_id"), name, scores):
                log.info("%s: scores logged into its training run %s", name, result["run"]["run_id"])


if __name__ == "__main__":
    run_main(main)
