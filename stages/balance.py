"""DVC stage `balance`: class weights, SMOTE and flip-augmented versions of the training split."""

from __future__ import annotations

import logging
import time

import numpy as np

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.files import write_json
from facial_emotion.labels import EMOTIONS
from facial_emotion.params import load_params

log = logging.getLogger("stages.balance")

PARAMS = ("seed", "mlflow.experiment", "balance")  # dvc.yaml lists the same keys

TRAIN, OUT_DIR, SUMMARY = paths.processed("train"), paths.BALANCED_DIR, paths.BALANCE_SUMMARY


def _counts(labels: np.ndarray) -> dict[str, int]:
    return {EMOTIONS[c]: int((labels == c).sum()) for c in range(len(EMOTIONS))}


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.balance", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    # Imported after the params check: --help and a bad param answer at once, not after imbalanced-learn loads.
    from facial_emotion.data.balance import add_flips, balanced_class_weights, class_indices, smote

    cfg, seed, experiment = params.balance, params.seed, params.mlflow.experiment
    tracking.configure(experiment)
    train = FaceDataset.load(TRAIN)

    weights = balanced_class_weights(train.labels)
    started = time.perf_counter()
    smote_images, smote_labels = smote(train.images, train.labels, cfg.smote.k_neighbors,
                                       cfg.smote.sampling_strategy, seed, cfg.smote.reduce_k)
    smote_seconds = time.perf_counter() - started
    flip_classes = class_indices(cfg.flip_classes)
    flip_images, flip_labels = add_flips(train.images, train.labels, flip_classes)
    # Source rows of every output row; SMOTE's synthetic rows have none (-1).
    smote_rows = np.concatenate([train.rows, np.full(len(smote_labels) - len(train.rows), -1, dtype=np.int64)])
    flip_rows = np.concatenate([train.rows, train.rows[np.isin(train.labels, flip_classes)]])

    summary = {
        "source": train.source,
        "synthetic": train.is_synthetic,
        "before": _counts(train.labels),
        "class_weights": {EMOTIONS[c]: w for c, w in weights.items()},
        "smote": {"after": _counts(smote_labels), "rows": int(len(smote_labels)), "seconds": round(smote_seconds, 2)},
        "flip": {"classes": list(cfg.flip_classes), "after": _counts(flip_labels), "rows": int(len(flip_labels))},
    }
    log.info("SMOTE: %d -> %d rows in %.1fs; flips: %d -> %d rows",
             len(train.labels), len(smote_labels), smote_seconds, len(train.labels), len(flip_labels))
    with tracking.stage_run("balance", params.logged(), train.source, train.sha256,
                            experiment=experiment) as run:
        import mlflow

        # One folder per method, so each training variant depends on its own input only.
        write_json(OUT_DIR / "none" / "balance.json", {"method": "none", "counts": summary["before"]})
        write_json(OUT_DIR / "class_weight" / "balance.json",
                   {"method": "class_weight", "counts": summary["before"],
                    "class_weights": {str(c): w for c, w in weights.items()}})
        outputs = (("smote", smote_images, smote_labels, smote_rows), ("flip", flip_images, flip_labels, flip_rows))
        for name, images, labels, rows in outputs:
            FaceDataset(images=images, labels=labels, usage=np.full(len(labels), "Training"), rows=rows,
                        source=train.source, sha256=train.sha256).save(OUT_DIR / name / "train.npz")
            write_json(OUT_DIR / name / "balance.json", {"method": name, "counts": summary[name]["after"]})
        summary["mlflow_run_id"] = run.info.run_id
        write_json(SUMMARY, summary)
        mlflow.log_metrics({"smote_rows": len(smote_labels), "flip_rows": len(flip_labels),
                            "smote_seconds": smote_seconds})
        mlflow.log_artifact(SUMMARY)


if __name__ == "__main__":
    run_main(main)
