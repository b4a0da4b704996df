"""DVC stage `baseline` (a matrix over logreg and svm): the second study's baselines, one MLflow run each."""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np

from facial_emotion import tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.training_sets import load_training_set
from facial_emotion.files import atomic_path
from facial_emotion.models.store import SKLEARN_FILE, log_model, model_dir, write_run_info
from facial_emotion.params import load_params
from facial_emotion.params.results import BaselinesSection

log = logging.getLogger("stages.baseline")

# dvc.yaml lists the same keys
PARAMS = ("seed", "mlflow.experiment", "labels", "baselines.balance", "baselines.{model}")


def main(argv=None) -> None:
    parser = stage_parser("stages.baseline", __doc__, PARAMS)
    parser.add_argument("--model", required=True, choices=sorted(set(BaselinesSection.model_fields) - {"balance"}))
    args = parser.parse_args(argv)
    params = load_params(PARAMS, model=args.model)
    # Imported after the params check: --help and a bad param answer at once, not after scikit-learn loads.
    from sklearn.exceptions import ConvergenceWarning

    from facial_emotion.data.label_sets import training_targets
    from facial_emotion.models.baselines import BASELINES, subsample

    section, balance = params.baselines[args.model], params.baselines.balance
    seed, experiment = params.seed, params.mlflow.experiment
    tracking.configure(experiment)
    training = load_training_set(balance)
    # FER2013's labels or FER+'s majority (the most-voted class under the vote distribution): scikit-learn
    # learns one class per face.
    targets = training_targets(training.data, params.labels, "baseline")
    images, labels = subsample(training.data.images[targets.index], targets.hard_labels, section.max_train_samples,
                               seed)
    name = args.model
    folder = model_dir(name)
    log.info("%s on %d training images (%s)", name, len(labels), balance)
    logged = {args.model: section.model_dump(), "balance": balance, "seed": seed, "labels": params.labels.model_dump()}
    with tracking.stage_run(f"baseline@{name}", logged, training.data.source, training.data.sha256,
                            experiment=experiment, name=tracking.run_name(name),
                            inputs=[tracking.DataInput(training.path, "training", len(training.data))]) as run:
        import mlflow

        mlflow.set_tags({"model_name": name, "model_kind": "baseline"})
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model = BASELINES[args.model](images, labels, section, seed)
        seconds = time.perf_counter() - started
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            log.warning("%s: the solver stopped before converging (raise baselines.%s.max_iter for a tighter fit)",
                        name, args.model)
            mlflow.set_tag("converged", "false")
        # On a sample: predicting all rows with an exact SVM costs as much as a third of its fit.
        probe = np.random.default_rng(seed).choice(len(labels), size=min(len(labels), 2000), replace=False)
        train_accuracy = float((model.predict(images[probe]) == labels[probe]).mean())
        mlflow.log_metrics({"train_seconds": seconds, "train_accuracy": train_accuracy, "train_rows": len(labels)})
        log.info("%s trained in %.1fs (training accuracy %.3f on a 2,000-row sample)", name, seconds, train_accuracy)
        model_uri = log_model(model, "model", images[:4])
    # The stage's outputs only once the MLflow run has everything: a tracking server that stops
    # answering mid-stage leaves no half output.
    import skops.io

    with atomic_path(folder / SKLEARN_FILE) as tmp:
        skops.io.dump(model, tmp)
    write_run_info(folder, {"model_name": name, "kind": "sklearn", "run_id": run.info.run_id,
                            "model_uri": model_uri, "experiment_id": run.info.experiment_id,
                            "train_seconds": round(seconds, 1), "train_rows": int(len(labels)),
                            "data_source": training.data.source, "labels": params.labels.source,
                            "classes": list(targets.classes)})


if __name__ == "__main__":
    run_main(main)
