"""DVC stage `teach`: the teachers' mean class probabilities for every training face, computed once.

Reads the teachers params.yaml `distill.teachers` names (models/teachers/<seed>/, trained by the
`teacher@<seed>` stages) and only those; writes data/teacher/probabilities.npz (rows, probabilities,
seeds, classes), which every `train@...` stage blends into its targets. With no teachers it writes
a file with zero teachers: distillation is off.
"""

from __future__ import annotations

import logging

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.labels import classes_for
from facial_emotion.models.teachers import teacher_probabilities
from facial_emotion.params import load_params

log = logging.getLogger("stages.teach")

# dvc.yaml lists the same keys; not distill.weight, which only the students read.
PARAMS = ("mlflow.experiment", "labels.source", "distill.teachers", "distill.tta_flip")


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.teach", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    experiment, tta_flip = params.mlflow.experiment, params.distill.tta_flip
    classes = classes_for(params.labels.source)
    tracking.configure(experiment)
    train = FaceDataset.load(paths.processed("train"))
    seeds = list(params.distill.teachers)
    with tracking.stage_run("teach", params.logged(), train.source, train.sha256, experiment=experiment,
                            inputs=[tracking.DataInput(paths.processed("train"), "training", len(train))]) as run:
        import mlflow

        result = teacher_probabilities(seeds, train, classes, tta_flip)
        if not seeds:
            log.info("distill.teachers is empty: distillation is off (%s holds zero teachers)",
                     paths.TEACHER_PROBABILITIES)
        else:
            known = train.labels >= 0
            agree = float((result.probabilities[known].argmax(axis=1) == train.labels[known]).mean()) \
                if known.any() else 0.0
            mlflow.log_metric("teachers_agree_with_fer2013_label", agree)
            log.info("teachers %s: mean probabilities%s for %d training faces (%d classes); their top class is "
                     "FER2013's label on %.1f%% of them", seeds, " (with flip TTA)" if tta_flip else "",
                     len(train), len(classes), 100 * agree)
        mlflow.set_tags({"teachers": ",".join(str(s) for s in seeds) or "none"})
        mlflow.log_metric("teachers", len(seeds))
    result.save(paths.TEACHER_PROBABILITIES)
    log.info("wrote %s (MLflow run %s)", paths.TEACHER_PROBABILITIES, run.info.run_id)


if __name__ == "__main__":
    run_main(main)
