"""DVC stage `evaluate`: score every model on validation and test (on every label set the data
has), build the top-k ensemble, choose the champion on validation only, and register it in the
MLflow Model Registry."""

from __future__ import annotations

import logging

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.files import read_json
from facial_emotion.params import StageParams, load_params

log = logging.getLogger("stages.evaluate")

PARAMS = ("mlflow.experiment", "labels.source", "evaluate", "registry", "variants")  # dvc.yaml lists the same keys


def model_names(params: StageParams) -> list[str]:
    """The six CNN variants (params `variants`) and the two baselines."""
    return list(params.variants) + ["logreg", "svm"]


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.evaluate", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    # Imported after the params check: --help and a bad param answer at once, not after scikit-learn loads.
    from facial_emotion.evaluation.champion import ENSEMBLE, add_ensemble, register_champion
    from facial_emotion.evaluation.outputs import write_model_outputs, write_summaries
    from facial_emotion.evaluation.scoring import score_models
    from facial_emotion.evaluation.selection import choose_champion
    from facial_emotion.models.store import model_dir, write_run_info

    cfg, experiment, primary = params.evaluate, params.mlflow.experiment, params.labels.source
    tracking.configure(experiment)
    val, test = FaceDataset.load(paths.processed("val")), FaceDataset.load(paths.processed("test"))
    split_summary = read_json(paths.SPLIT_SUMMARY)

    scored = score_models(model_names(params), val, test, cfg.tta_flip, primary)
    add_ensemble(scored, val, test, cfg, primary)
    champion = choose_champion(scored.metrics, cfg.select_by)

    datasets = {"validation": tracking.DataInput(paths.processed("val"), "validation", len(val)),
                "test": tracking.DataInput(paths.processed("test"), "test", len(test))}
    with tracking.stage_run("evaluate", {"evaluate": cfg.model_dump(), "registry": params.registry.model_dump(),
                                         "labels": {"source": primary}},
                            val.source, val.sha256, experiment=experiment, inputs=list(datasets.values())) as run:
        for name in scored.metrics:
            write_model_outputs(name, scored, val, test, primary, datasets)
        registration = register_champion(champion, scored, val, cfg, params.registry.model_name,
                                         tracking.git_commit())
        if champion == ENSEMBLE:
            write_run_info(model_dir(ENSEMBLE), {**scored.run_infos[ENSEMBLE], "evaluate_run_id": run.info.run_id})
        write_summaries(champion, registration, scored, val, cfg, split_summary, run.info.run_id, primary)
    best = scored.metrics[champion]
    log.info("champion: %s (validation %s %.4f, test %.4f, %s labels) -> %s version %s%s", champion, cfg.select_by,
             best["validation"][cfg.select_by], best["test"][cfg.select_by], primary, registration.name,
             registration.version, " (new)" if registration.created else " (unchanged)")


if __name__ == "__main__":
    run_main(main)
