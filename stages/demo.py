"""DVC stage `demo`: the registered champion (`models:/<registry.model_name>@champion`) on the
default input, a clip made from a real photograph, through the webcam demo's own loop.

Writes reports/demo/ (crops on label changes, grid, timeline, per-frame CSV, fps and latency
summary, preview, annotated video) and one MLflow run with the latency metrics and the grid.
"""

from __future__ import annotations

import logging
from pathlib import Path

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.errors import PipelineError
from facial_emotion.evaluation.registry import champion_uri
from facial_emotion.files import read_json
from facial_emotion.params import load_params

log = logging.getLogger("stages.demo")

PARAMS = ("seed", "mlflow.experiment", "registry.model_name", "demo")  # dvc.yaml lists the same keys

CHAMPION, OUT_DIR = paths.CHAMPION, paths.DEMO_DIR
VIDEO_NAME = "annotated.mp4"
METRICS = ("fps", "latency_ms_median", "latency_ms_p95", "latency_ms_mean", "detect_ms_median", "classify_ms_median",
           "track_ms_median", "render_ms_median", "frames", "face_detections", "faces_tracked", "label_changes",
           "crops_saved")


def read_champion(path: Path = CHAMPION) -> dict:
    if not path.exists():
        raise PipelineError(f"{path}: missing; run the evaluate stage first (dvc repro evaluate)")
    return read_json(path)


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.demo", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    demo, seed = params.demo, params.seed
    experiment, registered = params.mlflow.experiment, params.registry.model_name
    model_uri = champion_uri(registered)
    champion = read_champion()
    if champion.get("registered_model") not in (None, registered):
        log.warning("%s names registered model %r, params registry.model_name %r: using the latter",
                    CHAMPION, champion.get("registered_model"), registered)

    from facial_emotion.faces.classifier import load_classifier
    from facial_emotion.faces.demo import run_demo
    from facial_emotion.faces.outputs import GRID, PREVIEW, SUMMARY, TIMELINE
    from facial_emotion.faces.sources import open_source

    source = open_source(demo.source, demo.clip)
    with tracking.stage_run("demo", {"demo": demo.model_dump(), "seed": seed, "registry": {"model_name": registered}},
                            champion.get("data_source"), champion.get("data_sha256"), experiment=experiment) as run:
        import mlflow

        try:
            classifier = load_classifier(model_uri)
        except BaseException:
            source.close()
            raise
        if champion.get("version") is not None and str(champion["version"]) != str(classifier.version):
            log.warning("%s is version %s but the alias now points at version %s (a newer evaluate run?)",
                        model_uri, champion["version"], classifier.version)
        mlflow.set_tags({"model_uri": model_uri, "model_version": str(classifier.version),
                         "champion_name": str(champion.get("name"))})
        summary = run_demo(source, classifier, demo, OUT_DIR, window=None,
                           video_name=VIDEO_NAME if demo.annotated_video else None,
                           extra_summary={"mlflow_run_id": run.info.run_id, "champion": champion.get("name"),
                                          "registered_model": registered}, seed=seed)
        mlflow.log_metrics({k: float(summary[k]) for k in METRICS if summary.get(k) is not None})
        for name in (GRID, PREVIEW, TIMELINE, SUMMARY):
            mlflow.log_artifact(str(OUT_DIR / name), artifact_path="demo")


if __name__ == "__main__":
    run_main(main)
