"""DVC stage `preprocess`: split the interim faces into train / validation / test (uint8 kept)."""

from __future__ import annotations

import logging

import numpy as np

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.files import write_json
from facial_emotion.params import load_params

log = logging.getLogger("stages.preprocess")

PARAMS = ("seed", "mlflow.experiment", "labels", "split")  # dvc.yaml lists the same keys

INTERIM, SUMMARY = paths.INTERIM_FACES, paths.SPLIT_SUMMARY


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.preprocess", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    # Imported after the params check: --help and a bad param answer at once, not after scikit-learn loads.
    from facial_emotion.data.label_sets import label_sets, training_targets
    from facial_emotion.data.splits import make_split

    split_params, seed, experiment = params.split, params.seed, params.mlflow.experiment
    tracking.configure(experiment)
    dataset = FaceDataset.load(INTERIM)
    split = make_split(dataset, split_params.strategy, split_params.val_fraction, seed)
    # The training faces the label source can teach: under FER+, not those voted unknown or not-a-face.
    targets = training_targets(dataset.subset(split.train), params.labels, "preprocess")
    parts = {"train": split.train[targets.index], "val": split.val, "test": split.test}
    summary = {
        "strategy": split_params.strategy,
        "source": dataset.source,
        "synthetic": dataset.is_synthetic,
        "test_is_validation": split.test_is_validation,
        "sizes": {name: int(len(idx)) for name, idx in parts.items()},
        "test_private_rows": int((dataset.usage[split.test] == "PrivateTest").sum()),
        "labels": {"source": params.labels.source, "training_faces_left_out": targets.left_out,
                   "label_sets": _label_set_counts(dataset, parts, label_sets)},
    }
    if targets.left_out:
        log.info("labels.source %s: %d training faces left out (no usable label)", params.labels.source,
                 targets.left_out)
    if split.test_is_validation:
        summary["note"] = ("split 'study1' reproduces the first study: its 20% validation part is also the test "
                           "set, as in the study, so test figures are optimistic")
    log.info("split %s: %s", split_params.strategy, summary["sizes"])
    with tracking.stage_run("preprocess", params.logged(), dataset.source, dataset.sha256, experiment=experiment,
                            inputs=[tracking.DataInput(paths.INTERIM_FACES, "source", len(dataset))]) as run:
        import mlflow

        for name, idx in parts.items():
            dataset.subset(np.asarray(idx)).save(paths.processed(name))
        summary["mlflow_run_id"] = run.info.run_id
        write_json(SUMMARY, summary)
        mlflow.log_metrics({f"{name}_rows": size for name, size in summary["sizes"].items()})
        mlflow.log_artifact(SUMMARY)


def _label_set_counts(dataset: FaceDataset, parts: dict, label_sets) -> dict:
    """Per label set and split part: the faces it labels, by that set's own classes, and those it leaves out."""
    out: dict = {}
    for part, idx in parts.items():
        for name, subset in label_sets(dataset.subset(np.asarray(idx))).items():
            counts = np.bincount(subset.labels, minlength=len(subset.classes))
            out.setdefault(name, {})[part] = {"faces": int(len(subset.index)),
                                              "by_class": dict(zip(subset.classes, map(int, counts))),
                                              "left_out": subset.left_out}
    return out


if __name__ == "__main__":
    run_main(main)
