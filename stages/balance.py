"""DVC stage `balance`: class weights, SMOTE and flip-augmented versions of the training split."""

from __future__ import annotations

import logging
import time

import numpy as np

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.files import write_json
from facial_emotion.params import load_params

log = logging.getLogger("stages.balance")

PARAMS = ("seed", "mlflow.experiment", "labels", "balance")  # dvc.yaml lists the same keys

TRAIN, OUT_DIR, SUMMARY = paths.processed("train"), paths.BALANCED_DIR, paths.BALANCE_SUMMARY


def _counts(labels: np.ndarray, classes: tuple[str, ...]) -> dict[str, int]:
    return {name: int((labels == c).sum()) for c, name in enumerate(classes)}


def _keep_rows(train: FaceDataset, index: np.ndarray) -> FaceDataset:
    """The given faces of the training split, each keeping its row in the interim data."""
    kept = train.subset(index)
    kept.rows = train.rows[index]
    return kept


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.balance", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    # Imported after the params check: --help and a bad param answer at once, not after imbalanced-learn loads.
    from facial_emotion.data.balance import add_flips, balanced_class_weights, class_indices, smote
    from facial_emotion.data.label_sets import training_targets

    cfg, seed, experiment = params.balance, params.seed, params.mlflow.experiment
    tracking.configure(experiment)
    train = FaceDataset.load(TRAIN)
    # Balanced on the labels trained on: FER2013's, or FER+'s (the most-voted class of each face).
    targets = training_targets(train, params.labels, "balance")
    train, labels, classes = _keep_rows(train, targets.index), targets.hard_labels, targets.classes
    ferplus = params.labels.source == "ferplus"

    weights = balanced_class_weights(labels)
    started = time.perf_counter()
    smote_images, smote_labels = smote(train.images, labels, cfg.smote.k_neighbors,
                                       cfg.smote.sampling_strategy, seed, cfg.smote.reduce_k, classes)
    smote_seconds = time.perf_counter() - started
    flip_classes = class_indices(cfg.flip_classes)
    flipped = np.isin(labels, flip_classes)
    flip_images, flip_labels = add_flips(train.images, labels, flip_classes)
    # Source rows of every output row; SMOTE's synthetic rows have none (-1).
    new_rows = len(smote_labels) - len(train.rows)
    smote_rows = np.concatenate([train.rows, np.full(new_rows, -1, dtype=np.int64)])
    flip_rows = np.concatenate([train.rows, train.rows[flipped]])

    summary = {
        "source": train.source,
        "synthetic": train.is_synthetic,
        "labels": params.labels.source,
        "before": _counts(labels, classes),
        "class_weights": {classes[c]: w for c, w in weights.items()},
        "smote": {"after": _counts(smote_labels, classes), "rows": int(len(smote_labels)),
                  "seconds": round(smote_seconds, 2)},
        "flip": {"classes": list(cfg.flip_classes), "after": _counts(flip_labels, classes),
                 "rows": int(len(flip_labels))},
    }
    # The votes go with their faces (FER+'s labels, or FER2013's second target): SMOTE's new faces get
    # all ten votes for their class, and under FER+ their FER2013 label (unused in training) is -1.
    smote_votes = flip_votes = None
    if train.has_votes:
        new_votes = np.zeros((new_rows, train.votes.shape[1]), dtype=np.uint8)
        new_votes[np.arange(new_rows), smote_labels[len(train.rows):]] = 10
        smote_votes = np.concatenate([train.votes, new_votes])
        flip_votes = np.concatenate([train.votes, train.votes[flipped]])
    smote_fer2013 = (np.concatenate([train.labels, np.full(new_rows, -1, dtype=np.int64)]) if ferplus
                     else smote_labels)
    smote_out = (smote_fer2013, smote_votes)
    flip_out = (np.concatenate([train.labels, train.labels[flipped]]), flip_votes)
    log.info("SMOTE: %d -> %d rows in %.1fs; flips: %d -> %d rows",
             len(train.labels), len(smote_labels), smote_seconds, len(train.labels), len(flip_labels))
    with tracking.stage_run("balance", params.logged(), train.source, train.sha256, experiment=experiment,
                            inputs=[tracking.DataInput(paths.processed("train"), "training", len(train))]) as run:
        import mlflow

        # One folder per method, so each training variant depends on its own input only.
        write_json(OUT_DIR / "none" / "balance.json", {"method": "none", "counts": summary["before"]})
        write_json(OUT_DIR / "class_weight" / "balance.json",
                   {"method": "class_weight", "counts": summary["before"],
                    "class_weights": {str(c): w for c, w in weights.items()}})
        outputs = (("smote", smote_images, smote_out, smote_rows), ("flip", flip_images, flip_out, flip_rows))
        for name, images, (out_labels, votes), rows in outputs:
            FaceDataset(images=images, labels=out_labels, usage=np.full(len(out_labels), "Training"), rows=rows,
                        source=train.source, sha256=train.sha256, votes=votes).save(OUT_DIR / name / "train.npz")
            write_json(OUT_DIR / name / "balance.json", {"method": name, "counts": summary[name]["after"]})
        summary["mlflow_run_id"] = run.info.run_id
        write_json(SUMMARY, summary)
        mlflow.log_metrics({"smote_rows": len(smote_labels), "flip_rows": len(flip_labels),
                            "smote_seconds": smote_seconds})
        mlflow.log_artifact(SUMMARY)


if __name__ == "__main__":
    run_main(main)
