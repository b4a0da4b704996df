"""DVC stage `eda`: papermill runs notebooks/eda.ipynb on the ingested faces -> reports/eda/.

Writes the executed notebook and its code-free HTML (DVC outputs, MLflow artifacts) and a flat
figures JSON (DVC metrics). A failing cell fails the stage with that cell's error; the partly
executed notebook stays in reports/eda/eda.ipynb and is logged to the (failed) MLflow run.
"""

from __future__ import annotations

import logging

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.files import read_json
from facial_emotion.notebooks import NotebookError, run_notebook
from facial_emotion.params import load_params

log = logging.getLogger("stages.eda")

PARAMS = ("seed", "mlflow.experiment", "eda")  # dvc.yaml lists the same keys

TEMPLATE = "notebooks/eda.ipynb"
FACES, INGEST_SUMMARY = paths.INTERIM_FACES, paths.INGEST_SUMMARY
EXECUTED, HTML, FIGURES = paths.EDA_DIR / "eda.ipynb", paths.EDA_DIR / "eda.html", paths.EDA_DIR / "figures.json"


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.eda", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    eda, seed, experiment = params.eda, params.seed, params.mlflow.experiment
    summary = read_json(INGEST_SUMMARY)
    with tracking.stage_run("eda", params.logged(), summary.get("source"), summary.get("sha256"),
                            experiment=experiment) as run:
        import mlflow

        notebook_params = {
            "faces_path": str(FACES),
            "summary_path": str(INGEST_SUMMARY),
            "figures_path": str(FIGURES),
            "samples_per_class": eda.samples_per_class,
            "blank_thumbnails": eda.blank_thumbnails,
            "duplicate_groups_shown": eda.duplicate_groups_shown,
            "seed": seed,
            "mlflow_run_id": run.info.run_id,
        }
        try:
            run_notebook(TEMPLATE, EXECUTED, HTML, notebook_params, kernel_name=eda.kernel,
                         cell_timeout_s=eda.cell_timeout_s, title="Exploratory data analysis")
        except NotebookError as exc:
            if exc.partial_notebook is not None:
                mlflow.log_artifact(str(exc.partial_notebook), artifact_path="eda")
            raise
        figures = read_json(FIGURES)
        mlflow.log_metrics({f"eda_{k}": float(v) for k, v in figures.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)})
        for path in (HTML, EXECUTED, FIGURES):
            mlflow.log_artifact(str(path), artifact_path="eda")
    log.info("EDA report: %s (%d images, imbalance ratio %s)", HTML, figures["rows"], figures["imbalance_ratio"])


if __name__ == "__main__":
    run_main(main)
