"""DVC stage `train` (a matrix over balance x activation): one CNN variant, one MLflow run.

With `distill.teachers` set, each training face's target is blended with the teachers' mean
probabilities (data/teacher/probabilities.npz, the `teach` stage). With `--teacher-seed SEED` (the
`teacher@<seed>` stages) it trains a teacher instead: the variant's network and settings with that
seed, on the labels alone, into models/teachers/<seed>/.
"""

from __future__ import annotations

import argparse
import logging

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.data.training_sets import load_training_set
from facial_emotion.files import atomic_path
from facial_emotion.models.store import KERAS_FILE, log_model, model_dir, write_run_info
from facial_emotion.models.teachers import teacher_dir, teacher_name
from facial_emotion.params import load_params
from facial_emotion.params.training import ACTIVATIONS, BALANCES

log = logging.getLogger("stages.train")

# dvc.yaml lists the same keys; the variant's own overrides rerun only that variant.
PARAMS = ("seed", "mlflow.experiment", "labels", "cnn", "augmentation", "train",
          "variants.cnn-{balance}-{activation}", "distill")
# A teacher takes its seed from --teacher-seed and learns the labels alone: it reads neither `seed` nor
# `distill`, so changing them retrains no teacher (dvc.yaml's teacher stage lists these keys).
TEACHER_PARAMS = ("mlflow.experiment", "labels", "cnn", "augmentation", "train", "variants.cnn-{balance}-{activation}")


def variant_name(balance: str, activation: str) -> str:
    return f"cnn-{balance}-{activation}"


def parse_args(argv=None) -> argparse.Namespace:
    parser = stage_parser("stages.train", __doc__, PARAMS)
    parser.add_argument("--balance", required=True, choices=BALANCES)
    parser.add_argument("--activation", required=True, choices=ACTIVATIONS)
    parser.add_argument("--teacher-seed", type=int, metavar="SEED",
                        help="train a distillation teacher with this seed into models/teachers/SEED/ "
                             f"(reads {', '.join(TEACHER_PARAMS)})")
    args = parser.parse_args(argv)
    if args.teacher_seed is not None and not 0 <= args.teacher_seed < 2**32:
        parser.error(f"--teacher-seed: got {args.teacher_seed}, must be 0 to 2^32-1")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    teacher = args.teacher_seed is not None
    params = load_params(TEACHER_PARAMS if teacher else PARAMS, balance=args.balance, activation=args.activation)
    variant = variant_name(args.balance, args.activation)
    name = teacher_name(args.teacher_seed) if teacher else variant
    seed = args.teacher_seed if teacher else params.seed
    experiment = params.mlflow.experiment
    distill = None if teacher else params.distill
    # params.yaml `variants.<name>`, deep-merged onto `train` and validated like it.
    train_cfg = params.variants[variant]
    cnn, augmentation = params.cnn, params.augmentation
    tracking.configure(experiment)

    from facial_emotion.models.architectures import build_model
    from facial_emotion.models.resume import TrainingState, fingerprint
    from facial_emotion.models.training import fit, set_seeds, threads_note

    from facial_emotion.data.label_sets import label_set, training_targets

    training = load_training_set(args.balance)
    # FER2013's labels, or FER+'s votes (majority or distribution): the classes and targets follow labels.source.
    targets = training_targets(training.data, params.labels, "train")
    x_train, y_train = training.data.images[targets.index], targets.y
    if distill is not None and distill.teachers:
        y_train = _distilled(targets, training.data.rows[targets.index], distill, name)
    val = FaceDataset.load(paths.processed("val"))
    val_set = label_set(val, params.labels.source, "train")
    x_val, y_val = val.images[val_set.index], val_set.labels
    cap = train_cfg.synthetic_max_epochs
    if training.data.is_synthetic and cap and train_cfg.epochs > cap:
        log.warning("SYNTHETIC DATA: epochs capped at %d (train.synthetic_max_epochs) instead of %d",
                    cap, train_cfg.epochs)
        train_cfg = train_cfg.model_copy(update={"epochs": cap})
    set_seeds(seed, train_cfg.deterministic)
    model = build_model(cnn, args.activation, augmentation, seed, name, num_classes=len(targets.classes))
    log.info("%s: %s network, %d parameters, %d classes (%s labels%s), %d training images (%s), %d validation; %s",
             name, cnn.architecture, model.count_params(), len(targets.classes), params.labels.source,
             f", {params.labels.ferplus_target}" if params.labels.source == "ferplus"
             else f", FER+ votes mixed in at {params.labels.ferplus_mix}" if params.labels.ferplus_mix else "",
             len(x_train), args.balance, len(x_val), threads_note())

    folder = teacher_dir(seed) if teacher else model_dir(name)
    logged_params = {"train": train_cfg.model_dump(),
                     "cnn": {"architecture": cnn.architecture, **cnn.settings(), "l2": cnn.l2},
                     "augmentation": augmentation.model_dump(), "seed": seed, "balance": args.balance,
                     "activation": args.activation, "labels": params.labels.model_dump(),
                     **({"teacher_seed": seed} if teacher else {"distill": distill.model_dump()})}
    # Snapshots after every epoch, outside models/ (DVC deletes a stage's outputs before rerunning it):
    # a stopped run continues from its last finished epoch, in the same MLflow run.
    prints = fingerprint(train_cfg, model, [x_train, y_train, x_val, y_val],
                         training.class_weight, seed)
    state = TrainingState.open(name, prints)
    inputs = [tracking.DataInput(training.path, "training", len(training.data)),
              tracking.DataInput(paths.processed("val"), "validation", len(val))]
    stage = f"teacher@{seed}" if teacher else f"train@{args.balance}-{args.activation}"
    with tracking.stage_run(stage, logged_params, training.data.source,
                            training.data.sha256, experiment=experiment, name=tracking.run_name(name),
                            run_id=state.run_id, inputs=inputs) as run:
        import mlflow
        import pandas as pd

        state.run_id = run.info.run_id
        mlflow.set_tags({"model_name": name, "model_kind": "teacher" if teacher else "cnn",
                         "architecture": cnn.architecture,
                         "balance": args.balance, "activation": args.activation,
                         "labels": params.labels.source, "classes": ",".join(targets.classes)})
        mlflow.log_metric("parameters", model.count_params())
        result = fit(model, x_train, y_train, x_val, y_val, train_cfg,
                     class_weight=training.class_weight, label=name, mlflow_run=True, seed=seed, state=state)
        history = pd.DataFrame(result.history)
        mlflow.log_metrics({"best_epoch": result.best_epoch, "kept_epoch": result.kept_epoch,
                            "best_" + train_cfg.early_stopping.monitor: result.best_value,
                            "train_seconds": result.seconds, "epochs_run": len(result.history),
                            "epochs_resumed": result.resumed_from})
        mlflow.set_tag("stopped_by", "time_budget" if result.stopped_by_time_budget
                       else "early_stopping" if result.stopped_early else "epochs")
        _log_history(history)
        model_uri = log_model(model, "model", val.images[:4])
    # The stage's outputs only once MLflow has everything (the run is ended): a tracking server that
    # stops answering mid-stage leaves no half output, and the snapshot still resumes the training.
    with atomic_path(folder / KERAS_FILE) as tmp:
        model.save(tmp)
    with atomic_path(folder / "history.csv") as tmp:
        history.to_csv(tmp, index=False)
    write_run_info(folder, {"model_name": name, "kind": "keras", "run_id": run.info.run_id,
                            "model_uri": model_uri, "experiment_id": run.info.experiment_id,
                            "best_epoch": result.best_epoch, "kept_epoch": result.kept_epoch,
                            "restore": train_cfg.restore, "epochs_run": len(result.history),
                            "epochs_resumed": result.resumed_from,
                            "train_seconds": round(result.seconds, 1),
                            "stopped_by_time_budget": result.stopped_by_time_budget,
                            "data_source": training.data.source, "labels": params.labels.source,
                            "classes": list(targets.classes),
                            **({"teacher_seed": seed} if teacher else {"distill": distill.model_dump()})})
    state.clear()  # the model is saved and logged: nothing left to resume
    log.info("%s: best epoch %d (%s %.4f), kept epoch %d (train.restore: %s) after %.0fs", name, result.best_epoch,
             train_cfg.early_stopping.monitor, result.best_value, result.kept_epoch, train_cfg.restore,
             result.seconds)


def _distilled(targets, rows, distill, name: str):
    """The targets blended with the teachers' probabilities (data/teacher/probabilities.npz), said in the log."""
    from facial_emotion.data.distillation import TeacherProbabilities, distilled_targets

    teachers = TeacherProbabilities.load(paths.TEACHER_PROBABILITIES)
    result = distilled_targets(targets.y, rows, teachers, distill.teachers, distill.weight, targets.classes,
                               f"train {name}")
    log.info("%s: distilling from %d teacher%s (seeds %s) at weight %g%s", name, len(distill.teachers),
             "s" if len(distill.teachers) > 1 else "", ", ".join(map(str, distill.teachers)), distill.weight,
             f"; {result.without_teacher} of {len(rows)} training faces have no teacher probability (SMOTE's new "
             "faces) and keep their label target alone" if result.without_teacher else "")
    return result.y


def _log_history(history) -> None:
    """history.csv as a run artifact, written outside the stage's output folder."""
    import tempfile
    from pathlib import Path

    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.csv"
        history.to_csv(path, index=False)
        mlflow.log_artifact(str(path))


if __name__ == "__main__":
    run_main(main)
