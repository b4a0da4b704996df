"""DVC stage `ingest`: data/raw/ (or synthetic stand-in) -> data/interim/faces.npz + summary."""

from __future__ import annotations

import logging
from pathlib import Path

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.discover import discover
from facial_emotion.data.ingest import ingest, summarise
from facial_emotion.files import write_json
from facial_emotion.params import load_params

log = logging.getLogger("stages.ingest")

PARAMS = ("seed", "mlflow.experiment", "data", "labels.source", "ingest")  # dvc.yaml lists the same keys

INTERIM, SUMMARY = paths.INTERIM_FACES, paths.INGEST_SUMMARY


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.ingest", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    data, ingest_params, seed = params.data, params.ingest, params.seed
    found = discover(data.raw_dir, data.source)  # what data/raw/ holds: a bad input fails first, in one line
    tracking.configure(params.mlflow.experiment)  # fail fast before the heavy work
    result = ingest(data.raw_dir, data.source, ingest_params.on_bad_row, data.synthetic_rows, seed, found=found,
                    labels_source=params.labels.source)
    summary = summarise(result, ingest_params.blank_max_std)
    log.info("read %d rows from %s (%s); rejected %d; skipped %d files that are not faces; %d blank, "
             "%d duplicate copies; %d files or folders passed over", summary["rows"], result.input_path,
             result.source, summary["rejected_total"], summary["skipped_files_total"],
             summary["blank_images"]["count"], summary["duplicate_images"]["extra_copies"],
             len(summary["passed_over"]))
    # the raw input's digest: the first 32 hex digits of the data's sha256 (MLflow keeps 36 characters)
    raw = tracking.DataInput(Path(result.input_path), "source", summary["rows"], result.sha256[:32])
    with tracking.stage_run("ingest", params.logged(), result.source, result.sha256,
                            experiment=params.mlflow.experiment, inputs=[raw]) as run:
        import mlflow

        result.dataset.save(INTERIM)
        summary["mlflow_run_id"] = run.info.run_id
        write_json(SUMMARY, summary)
        mlflow.log_metrics({
            "rows": summary["rows"],
            "rejected_rows": summary["rejected_total"],
            "blank_images": summary["blank_images"]["count"],
            "duplicate_copies": summary["duplicate_images"]["extra_copies"],
        })
        mlflow.log_artifact(SUMMARY)


if __name__ == "__main__":
    run_main(main)
