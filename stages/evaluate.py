"""DVC stage `evaluate`: score every model on validation and test, build the top-k ensemble,
choose the champion on validation only, and register it in the MLflow Model Registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.files import read_json, write_json, write_npz, write_text
from facial_emotion.models.store import (KERAS_FILE, load_keras_model, load_predictor, log_model, model_dir,
                                         read_run_info, write_run_info)
from facial_emotion.params import StageParams, load_params

log = logging.getLogger("stages.evaluate")

PARAMS = ("mlflow.experiment", "evaluate", "registry", "variants")  # dvc.yaml lists the same keys

ENSEMBLE = "ensemble"


@dataclass
class Scored:
    """Every model's scores, its validation and test probabilities, and its model folder's run info."""

    metrics: dict[str, dict] = field(default_factory=dict)
    probabilities: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    run_infos: dict[str, dict] = field(default_factory=dict)


def model_names(params: StageParams) -> list[str]:
    """The six CNN variants (params `variants`) and the two baselines."""
    return list(params.variants) + ["logreg", "svm"]


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.evaluate", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    # Imported after the params check: --help and a bad param answer at once, not after scikit-learn loads.
    from facial_emotion.evaluation.selection import choose_champion

    cfg, experiment = params.evaluate, params.mlflow.experiment
    tracking.configure(experiment)
    val, test = FaceDataset.load(paths.processed("val")), FaceDataset.load(paths.processed("test"))
    split_summary = read_json(paths.SPLIT_SUMMARY)

    scored = score_models(model_names(params), val, test, cfg.tta_flip)
    add_ensemble(scored, val, test, cfg)
    champion = choose_champion(scored.metrics, cfg.select_by)

    with tracking.stage_run("evaluate", {"evaluate": cfg.model_dump(), "registry": params.registry.model_dump()},
                            val.source, val.sha256, experiment=experiment) as run:
        for name in scored.metrics:
            write_model_outputs(name, scored, val, test)
        registration = register_champion(champion, scored, val, cfg, params.registry.model_name)
        if champion == ENSEMBLE:
            write_run_info(model_dir(ENSEMBLE), {**scored.run_infos[ENSEMBLE], "evaluate_run_id": run.info.run_id})
        write_summaries(champion, registration, scored, val, cfg, split_summary, run.info.run_id)
    best = scored.metrics[champion]
    log.info("champion: %s (validation %s %.4f, test %.4f) -> %s version %s%s", champion, cfg.select_by,
             best["validation"][cfg.select_by], best["test"][cfg.select_by], registration.name, registration.version,
             " (new)" if registration.created else " (unchanged)")


def score_models(names: list[str], val: FaceDataset, test: FaceDataset, tta_flip: bool) -> Scored:
    """Every trained model on validation and test (averaged with the mirror image under `tta_flip`)."""
    from facial_emotion.evaluation.scoring import score, tta

    scored = Scored()
    for name in names:
        folder = model_dir(name)
        scored.run_infos[name] = read_run_info(folder)
        predict = tta(load_predictor(folder), tta_flip)
        p_val, p_test = predict(val.images), predict(test.images)
        scored.probabilities[name] = (p_val, p_test)
        scored.metrics[name] = score(val.labels, p_val, test, p_test)
        log.info("%-24s validation %s", name, _headline(scored.metrics[name]))
    return scored


def add_ensemble(scored: Scored, val: FaceDataset, test: FaceDataset, cfg) -> None:
    """The mean of the top-k CNNs by validation (`evaluate.ensemble_top_k`), saved as one Keras model."""
    from facial_emotion.evaluation.ensemble import build_ensemble, with_flip_tta
    from facial_emotion.evaluation.scoring import score
    from facial_emotion.evaluation.selection import rank_by_validation

    cnns = [n for n in rank_by_validation(scored.metrics, cfg.select_by) if n.startswith("cnn-")]
    members = cnns[: cfg.ensemble_top_k]
    if len(members) < 2:
        return
    ensemble = build_ensemble([load_keras_model(model_dir(n) / KERAS_FILE) for n in members])
    if cfg.tta_flip:
        ensemble = with_flip_tta(ensemble, name="ensemble_fliptta")
    folder = model_dir(ENSEMBLE)
    folder.mkdir(parents=True, exist_ok=True)
    ensemble.save(folder / KERAS_FILE)
    p_val, p_test = (np.mean([scored.probabilities[n][i] for n in members], axis=0) for i in (0, 1))
    scored.probabilities[ENSEMBLE] = (p_val, p_test)
    scored.metrics[ENSEMBLE] = score(val.labels, p_val, test, p_test)
    scored.run_infos[ENSEMBLE] = {"model_name": ENSEMBLE, "kind": "keras", "members": members, "run_id": None,
                                  "model_uri": None}
    log.info("%-24s validation %s (members: %s)", ENSEMBLE, _headline(scored.metrics[ENSEMBLE]), ", ".join(members))


def write_model_outputs(name: str, scored: Scored, val: FaceDataset, test: FaceDataset) -> None:
    """A model's metrics JSON, study-1 report, confusion data and probabilities; the scores also land
    in the run that trained it (or in this run, when that one is not in the store)."""
    import mlflow

    from facial_emotion.evaluation.metrics import HEADLINE, confusion_records, study_report
    from facial_emotion.evaluation.scoring import log_scores_into_training_run

    scores, (p_val, p_test) = scored.metrics[name], scored.probabilities[name]
    write_json(paths.METRICS_DIR / f"{name}.json", scores)
    report_path = paths.EVALUATION_DIR / f"{name}_classification_report.txt"
    write_text(report_path, f"{name}: validation ({len(val)} rows), the first study's layout\n\n"
                            f"{study_report(val.labels, p_val)}\n"
                            f"{name}: test ({len(test)} rows)\n\n{study_report(test.labels, p_test)}")
    write_json(paths.CONFUSION_DIR / f"{name}.json", confusion_records(test.labels, p_test))
    write_npz(paths.PREDICTIONS_DIR / f"{name}.npz", validation=p_val.astype(np.float32),
              test=p_test.astype(np.float32), validation_labels=val.labels, test_labels=test.labels)
    if not log_scores_into_training_run(scored.run_infos[name].get("run_id"), name, scores, report_path):
        mlflow.log_metrics({f"{name}.{split}_{k}": v for split, values in scores.items()
                            for k, v in values.items() if k in HEADLINE})


def register_champion(champion: str, scored: Scored, val: FaceDataset, cfg, registered_name: str):
    """The champion in the Model Registry with the alias `champion`: its own logged model, or one logged
    here for an ensemble, a TTA model or a training run that is gone. A champion whose validation
    predictions match the current version's adds no new version."""
    from facial_emotion.evaluation.registry import fingerprint, needs_new_version, register

    champion_print = fingerprint(champion, scored.probabilities[champion][0])
    model_uri = scored.run_infos[champion].get("model_uri")
    new_model = needs_new_version(registered_name, champion_print)
    if new_model and (champion == ENSEMBLE or cfg.tta_flip or not _logged_model_exists(model_uri)):
        from facial_emotion.evaluation.ensemble import champion_model

        model_uri = log_model(champion_model(champion, cfg.tta_flip), f"champion-{champion}", val.images[:4])
    return register(registered_name, model_uri, champion_print,
                    {"model_name": champion, "select_by": cfg.select_by,
                     f"validation_{cfg.select_by}": f"{scored.metrics[champion]['validation'][cfg.select_by]:.4f}",
                     "data_source": val.source, "git_commit": tracking.git_commit()})


def write_summaries(champion: str, registration, scored: Scored, val: FaceDataset, cfg, split_summary: dict,
                    run_id: str) -> None:
    """reports/champion.json, leaderboard.json and comparison.json, also logged to this run."""
    import mlflow

    from facial_emotion.evaluation.comparison import compare_with_studies
    from facial_emotion.evaluation.metrics import HEADLINE
    from facial_emotion.evaluation.selection import rank_by_validation

    metrics, select_by = scored.metrics, cfg.select_by
    write_json(paths.CHAMPION, {
        "name": champion, "registered_model": registration.name, "version": registration.version,
        "alias": "champion", "model_uri": registration.model_uri, "new_version": registration.created,
        "select_by": select_by, "validation": metrics[champion]["validation"], "test": metrics[champion]["test"],
        "members": scored.run_infos[champion].get("members"), "tta_flip": cfg.tta_flip,
        "data_source": val.source, "data_sha256": val.sha256, "synthetic": val.is_synthetic,
        "evaluate_run_id": run_id,
    })
    splits = ("validation", "test")
    leaderboard = [{"model": n, **{split: {k: metrics[n][split][k] for k in HEADLINE} for split in splits}}
                   for n in rank_by_validation(metrics, select_by)]
    write_json(paths.LEADERBOARD, {"select_by": select_by, "models": leaderboard})
    write_json(paths.COMPARISON, compare_with_studies(metrics, split_summary["strategy"],
                                                      split_summary["test_is_validation"]))
    mlflow.set_tags({"champion": champion, "champion_version": registration.version})
    mlflow.log_metrics({f"champion_validation_{k}": metrics[champion]["validation"][k] for k in HEADLINE})
    for path in (paths.CHAMPION, paths.LEADERBOARD, paths.COMPARISON):
        mlflow.log_artifact(str(path))


def _headline(metrics: dict[str, dict]) -> str:
    from facial_emotion.evaluation.metrics import HEADLINE

    return "  ".join(f"{k} {metrics['validation'][k]:.4f}" for k in HEADLINE)


def _logged_model_exists(model_uri: str | None) -> bool:
    import mlflow

    if not model_uri:
        return False
    try:
        mlflow.get_logged_model(model_uri.removeprefix("models:/"))
        return True
    except mlflow.exceptions.MlflowException:
        return False


if __name__ == "__main__":
    run_main(main)
