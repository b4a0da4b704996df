"""DVC stage `evaluate`: score every model on validation and test, build the top-k ensemble,
choose the champion on validation only, and register it in the MLflow Model Registry."""

from __future__ import annotations

import logging
from pathlib import Path
import numpy as np

from facial_emotion import tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.files import read_json, write_json, write_npz, write_text
from facial_emotion.models.store import (KERAS_FILE, keras_pip_requirements, load_keras_model, load_predictor, model_dir,
                                         read_run_info, write_run_info)
from facial_emotion.params import StageParams, load_params

log = logging.getLogger("stages.evaluate")

PARAMS = ("mlflow.experiment", "evaluate", "registry", "variants")  # dvc.yaml lists the same keys

METRICS_DIR = Path("reports/metrics")
DETAIL_DIR = Path("reports/evaluation")
CONFUSION_DIR = Path("reports/confusion")
PREDICTIONS_DIR = Path("reports/predictions")
ENSEMBLE = "ensemble"


def model_names(params: StageParams) -> list[str]:
    """The six CNN variants (params `variants`) and the two baselines."""
    return list(params.variants) + ["logreg", "svm"]


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.evaluate", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    # Imported after the params check: --help and a bad param answer at once, not after scikit-learn loads.
    from facial_emotion.evaluation.comparison import compare_with_studies
    from facial_emotion.evaluation.metrics import HEADLINE, confusion_records, study_report
    from facial_emotion.evaluation.registry import fingerprint, needs_new_version, register
    from facial_emotion.evaluation.scoring import log_scores_into_training_run, score, tta
    from facial_emotion.evaluation.selection import choose_champion, rank_by_validation

    cfg, experiment, registered_name = params.evaluate, params.mlflow.experiment, params.registry.model_name
    tracking.configure(experiment)
    val = FaceDataset.load("data/processed/val.npz")
    test = FaceDataset.load("data/processed/test.npz")
    split_summary = read_json("reports/split_summary.json")

    metrics: dict[str, dict] = {}
    probabilities: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    run_infos: dict[str, dict] = {}
    for name in model_names(params):
        folder = model_dir(name)
        run_infos[name] = read_run_info(folder)
        predict = tta(load_predictor(folder), cfg.tta_flip)
        probabilities[name] = (predict(val.images), predict(test.images))
        metrics[name] = score(val.labels, probabilities[name][0], test, probabilities[name][1])
        log.info("%-24s validation %s", name, "  ".join(f"{k} {metrics[name]['validation'][k]:.4f}" for k in HEADLINE))

    # Ensemble of the top-k CNNs, chosen on validation.
    from facial_emotion.evaluation.ensemble import build_ensemble, with_flip_tta

    cnns = [n for n in rank_by_validation(metrics, cfg.select_by) if n.startswith("cnn-")]
    members = cnns[: cfg.ensemble_top_k]
    if len(members) >= 2:
        ensemble = build_ensemble([load_keras_model(model_dir(n) / KERAS_FILE) for n in members])
        if cfg.tta_flip:
            ensemble = with_flip_tta(ensemble, name="ensemble_fliptta")
        folder = model_dir(ENSEMBLE)
        folder.mkdir(parents=True, exist_ok=True)
        ensemble.save(folder / KERAS_FILE)
        probabilities[ENSEMBLE] = (np.mean([probabilities[n][0] for n in members], axis=0),
                                   np.mean([probabilities[n][1] for n in members], axis=0))
        metrics[ENSEMBLE] = score(val.labels, probabilities[ENSEMBLE][0], test, probabilities[ENSEMBLE][1])
        run_infos[ENSEMBLE] = {"model_name": ENSEMBLE, "kind": "keras", "members": members, "run_id": None, "model_uri": None}
        log.info("%-24s validation %s (members: %s)", ENSEMBLE,
                 "  ".join(f"{k} {metrics[ENSEMBLE]['validation'][k]:.4f}" for k in HEADLINE), ", ".join(members))

    champion = choose_champion(metrics, cfg.select_by)
    leaderboard = [{"model": n, "validation": {k: metrics[n]["validation"][k] for k in HEADLINE},
                    "test": {k: metrics[n]["test"][k] for k in HEADLINE}} for n in rank_by_validation(metrics, cfg.select_by)]

    with tracking.stage_run("evaluate", {"evaluate": cfg.model_dump(), "registry": params.registry.model_dump()},
                            val.source, val.sha256,
                            experiment=experiment) as run:
        import mlflow

        for name, scores in metrics.items():
            write_json(METRICS_DIR / f"{name}.json", scores)
            p_val, p_test = probabilities[name]
            report = study_report(val.labels, p_val)
            report_path = DETAIL_DIR / f"{name}_classification_report.txt"
            write_text(report_path, f"{name}: validation ({len(val)} rows), the first study's layout\n\n{report}\n"
                                    f"{name}: test ({len(test)} rows)\n\n{study_report(test.labels, p_test)}")
            write_json(CONFUSION_DIR / f"{name}.json", confusion_records(test.labels, p_test))
            write_npz(PREDICTIONS_DIR / f"{name}.npz", validation=p_val.astype(np.float32), test=p_test.astype(np.float32),
                      validation_labels=val.labels, test_labels=test.labels)
            if not log_scores_into_training_run(run_infos[name].get("run_id"), name, scores, report_path):
                mlflow.log_metrics({f"{name}.{split}_{k}": v for split, values in scores.items()
                                    for k, v in values.items() if k in HEADLINE})

        # Register the champion: its own logged model, or a fresh one for ensemble / TTA models.
        champion_print = fingerprint(champion, probabilities[champion][0])
        model_uri = run_infos[champion].get("model_uri")
        new_model = needs_new_version(registered_name, champion_print)
        if new_model and (champion == ENSEMBLE or cfg.tta_flip or not _logged_model_exists(model_uri)):
            model_uri = _log_champion_model(champion, val, cfg.tta_flip)
        registration = register(registered_name, model_uri, champion_print,
                                {"model_name": champion, "select_by": cfg.select_by,
                                 f"validation_{cfg.select_by}": f"{metrics[champion]['validation'][cfg.select_by]:.4f}",
                                 "data_source": val.source, "git_commit": tracking.git_commit()})
        if champion == ENSEMBLE:
            write_run_info(model_dir(ENSEMBLE), {**run_infos[ENSEMBLE], "evaluate_run_id": run.info.run_id})
        champion_info = {
            "name": champion, "registered_model": registration.name, "version": registration.version,
            "alias": "champion", "model_uri": registration.model_uri, "new_version": registration.created,
            "select_by": cfg.select_by, "validation": metrics[champion]["validation"], "test": metrics[champion]["test"],
            "members": run_infos[champion].get("members"), "tta_flip": cfg.tta_flip,
            "data_source": val.source, "data_sha256": val.sha256, "synthetic": val.is_synthetic,
            "evaluate_run_id": run.info.run_id,
        }
        write_json("reports/champion.json", champion_info)
        write_json("reports/leaderboard.json", {"select_by": cfg.select_by, "models": leaderboard})
        write_json("reports/comparison.json", compare_with_studies(metrics, split_summary["strategy"],
                                                                   split_summary["test_is_validation"]))
        mlflow.set_tags({"champion": champion, "champion_version": registration.version})
        mlflow.log_metrics({f"champion_validation_{k}": metrics[champion]["validation"][k] for k in HEADLINE})
        for path in ("reports/champion.json", "reports/leaderboard.json", "reports/comparison.json"):
            mlflow.log_artifact(path)
    log.info("champion: %s (validation %s %.4f, test %.4f) -> %s version %s%s", champion, cfg.select_by,
             metrics[champion]["validation"][cfg.select_by], metrics[champion]["test"][cfg.select_by],
             registration.name, registration.version, " (new)" if registration.created else " (unchanged)")


def _logged_model_exists(model_uri: str | None) -> bool:
    import mlflow

    if not model_uri:
        return False
    try:
        mlflow.get_logged_model(model_uri.removeprefix("models:/"))
        return True
    except mlflow.exceptions.MlflowException:
        return False


def _log_champion_model(name: str, val: FaceDataset, tta_flip: bool) -> str:
    """Log the champion's model file into the evaluate run (ensembles, TTA, or a lost training run)."""
    import mlflow
    from mlflow.models import infer_signature

    folder = model_dir(name)
    sample = val.images[:4, :, :, None]
    if (folder / KERAS_FILE).exists():
        model = load_keras_model(folder / KERAS_FILE)
        if name != ENSEMBLE and tta_flip:  # the saved ensemble already has it
            from facial_emotion.evaluation.ensemble import with_flip_tta

            model = with_flip_tta(model)
        info = mlflow.keras.log_model(model, name=f"champion-{name}", pip_requirements=keras_pip_requirements(),
                                      signature=infer_signature(sample, model.predict(sample.astype(np.float32), verbose=0)))
    else:
        import skops.io

        from facial_emotion.models.store import SKLEARN_FILE, skops_trusted_types

        trusted = skops_trusted_types(folder / SKLEARN_FILE)
        model = skops.io.load(folder / SKLEARN_FILE, trusted=trusted)
        info = mlflow.sklearn.log_model(model, name=f"champion-{name}", serialization_format="skops",
                                        skops_trusted_types=trusted, pyfunc_predict_fn="predict_proba",
                                        signature=infer_signature(sample, model.predict_proba(sample)))
    return info.model_uri


if __name__ == "__main__":
    run_main(main)
