"""DVC stage `report`: one classification-report page per model, then the one-page reports/index.html.

papermill runs notebooks/classification_report.ipynb for every model in reports/metrics/ into
reports/html/<model>.ipynb and its code-free HTML; reports/index.html is rendered from a Jinja2
template. All of them are DVC outputs and artifacts of this stage's MLflow run; each model's page
also goes into that model's training run when the run is in this MLflow store.

A failing cell fails the stage with that cell's error; the partly executed notebook stays in
reports/html/<model>.ipynb and is logged to the (failed) MLflow run.

The demo's face grid (reports/demo/*grid*.png) is shown: in dvc.yaml the report depends on
reports/demo, so the demo runs first (the demo does not depend on the report: no cycle).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.notebooks import NotebookError, run_notebook
from facial_emotion.params import ALL, load_params, read_yaml
from facial_emotion.params.results import ReportSection

log = logging.getLogger("stages.report")

# The page's header lists every param that differs from git HEAD's params.yaml: it reads the whole file.
PARAMS = (ALL,)  # dvc.yaml: `- params.yaml:` (every key)

TEMPLATE = "notebooks/classification_report.ipynb"
PAGES = paths.MODEL_PAGES_DIR


def notebook_parameters(model: str, cfg: ReportSection) -> dict[str, Any]:
    """The template's `parameters` cell for one model (paths relative to the repo root)."""
    return {
        "model_name": model,
        "metrics_path": str(paths.METRICS_DIR / f"{model}.json"),
        "predictions_path": str(paths.PREDICTIONS_DIR / f"{model}.npz"),
        "evaluation_report_path": str(paths.EVALUATION_DIR / f"{model}_classification_report.txt"),
        "history_path": str(paths.MODELS_DIR / model / "history.csv"),
        "run_info_path": str(paths.MODELS_DIR / model / paths.RUN_INFO),
        "test_data_path": str(paths.processed("test")),
        "ingest_summary_path": str(paths.INGEST_SUMMARY),
        "champion_path": str(paths.CHAMPION),
        "index_link": "../index.html",
        "n_mistakes": cfg.n_mistakes,
        "calibration_bins": cfg.calibration_bins,
    }


def remove_stale_pages(models: list[str]) -> None:
    """Pages of models this run no longer has (DVC clears outputs itself; a manual run may not)."""
    for path in PAGES.glob("*"):
        if path.suffix in (".html", ".ipynb") and path.stem not in models:
            path.unlink()


def log_page_into_training_run(model: str, page: Path) -> bool:
    """The model's page lands in the run that trained it; False when it has none in this store."""
    from facial_emotion.report.inputs import load_optional_json

    run_id = (load_optional_json(paths.MODELS_DIR / model / paths.RUN_INFO) or {}).get("run_id")
    client = tracking.client_for_run(run_id, model)  # None for the ensemble: it is not trained
    if client is None:
        return False
    client.log_artifact(run_id, str(page), artifact_path="report")
    return True


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.report", __doc__,
                 ["every key (the header lists those changed since git HEAD)"]).parse_args(argv)
    params = load_params(PARAMS)
    # Imported after the params check: --help and a bad param answer at once, not after pandas and scikit-learn load.
    from facial_emotion.report.index import ReportPaths, build_context, model_order, write_index
    from facial_emotion.report.inputs import load_optional_json
    from facial_emotion.report.params_diff import git_baseline

    cfg, experiment = params.report, params.mlflow.experiment
    report_paths = ReportPaths()
    _, models = model_order(report_paths)
    summary = load_optional_json(paths.INGEST_SUMMARY) or {}
    with tracking.stage_run("report", {"report": cfg.model_dump()}, summary.get("source"), summary.get("sha256"),
                            experiment=experiment):
        import mlflow

        PAGES.mkdir(parents=True, exist_ok=True)
        remove_stale_pages(models)
        for model in models:
            executed, page = PAGES / f"{model}.ipynb", PAGES / f"{model}.html"
            try:
                run_notebook(TEMPLATE, executed, page, notebook_parameters(model, cfg), kernel_name=cfg.kernel,
                             cell_timeout_s=cfg.cell_timeout_s, title=f"Classification report: {model}")
            except NotebookError as exc:
                if exc.partial_notebook is not None:
                    mlflow.log_artifact(str(exc.partial_notebook), artifact_path="report/models")
                raise
            mlflow.log_artifact(str(executed), artifact_path="report/models")
            mlflow.log_artifact(str(page), artifact_path="report/models")
            logged = log_page_into_training_run(model, page)
            log.info("%s: %s%s", model, page, " (also in its training run)" if logged else "")

        context = build_context(report_paths, read_yaml(paths.PARAMS_FILE), git_baseline(str(paths.PARAMS_FILE)),
                                tracking.git_commit())
        index = write_index(report_paths, context)
        mlflow.log_artifact(str(index), artifact_path="report")
        mlflow.set_tags({"report_models": str(len(models)), "report_synthetic": str(context["synthetic"]).lower()})
    log.info("report: %s (%d models, champion %s)", index, len(models), (context["champion"] or {}).get("name"))


if __name__ == "__main__":
    run_main(main)
