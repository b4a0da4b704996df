"""DVC stage `export`: the champion as ONNX for ONNX Runtime, parity-checked against Keras on the test rows.

The champion is reports/champion.json's (an ensemble as one graph). The stage fails when the top
class agrees on fewer than `export.min_agreement` of the test rows. A scikit-learn champion (a
baseline that won, as on tiny synthetic runs) is not exported: one warning line, `exported: false`
and the reason in reports/export.json, and the demo and the service load it through MLflow.

Writes models/export/model.onnx (the class names in its metadata) and reports/export.json (the
parity figures). In MLflow: one run with the ONNX file and the figures, and a tag on the registered
champion version pointing at that file, so the demo, the web service and `facial-emotion --model
champion` load it through ONNX Runtime instead of the Keras model.
"""

from __future__ import annotations

import logging

from facial_emotion import paths, tracking
from facial_emotion.cli import run_main, stage_parser
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.errors import PipelineError
from facial_emotion.files import read_json, write_json
from facial_emotion.params import load_params

log = logging.getLogger("stages.export")

PARAMS = ("mlflow.experiment", "registry.model_name", "evaluate.tta_flip", "export")  # dvc.yaml lists the same keys

ARTIFACT_DIR = "onnx"


def main(argv: list[str] | None = None) -> None:
    stage_parser("stages.export", __doc__, PARAMS).parse_args(argv)
    params = load_params(PARAMS)
    if not paths.CHAMPION.exists():
        raise PipelineError(f"{paths.CHAMPION}: missing; run the evaluate stage first (dvc repro evaluate)")
    champion = read_json(paths.CHAMPION)
    name, cfg = champion["name"], params.export
    test = FaceDataset.load(paths.processed("test"))

    from facial_emotion.evaluation.ensemble import champion_model
    from facial_emotion.inference.export import export_checked
    from facial_emotion.inference.onnx_model import ONNX_TAG
    from facial_emotion.models.store import KERAS_FILE, model_dir

    if not (model_dir(name) / KERAS_FILE).exists():
        _not_exported(name, champion)
        return

    with tracking.stage_run("export", {"export": cfg.model_dump(), "evaluate": {"tta_flip": params.evaluate.tta_flip}},
                            test.source, test.sha256, experiment=params.mlflow.experiment) as run:
        import mlflow

        model = champion_model(name, params.evaluate.tta_flip)
        result = export_checked(model, paths.EXPORT_ONNX, test.images, f"champion {name}", cfg.min_agreement,
                                cfg.opset)
        report = {**result, "exported": True, "champion": name, "registered_model": champion.get("registered_model"),
                  "version": champion.get("version"), "test_rows": len(test), "mlflow_run_id": run.info.run_id,
                  "artifact_uri": f"runs:/{run.info.run_id}/{ARTIFACT_DIR}/{paths.EXPORT_ONNX.name}"}
        write_json(paths.EXPORT_REPORT, report)
        mlflow.log_artifact(str(paths.EXPORT_ONNX), artifact_path=ARTIFACT_DIR)
        mlflow.log_artifact(str(paths.EXPORT_REPORT), artifact_path=ARTIFACT_DIR)
        parity = result["parity"]
        mlflow.log_metrics({"parity_agreement": parity["agreement"],
                            "parity_max_abs_difference": parity["max_abs_difference"],
                            "onnx_bytes": float(result["bytes"])})
        mlflow.set_tags({"champion": name, "champion_version": str(champion.get("version"))})
        tag_champion_version(params.registry.model_name, champion, report["artifact_uri"], ONNX_TAG)


def _not_exported(name: str, champion: dict) -> None:
    """A champion with no Keras model (a scikit-learn baseline): said once, recorded, nothing converted."""
    import shutil

    reason = (f"champion {name} is a scikit-learn model: only Keras models (the CNNs, the ensemble) export "
              "to ONNX; the demo and the service load it through MLflow")
    log.warning("not exported: %s", reason)
    shutil.rmtree(paths.EXPORT_DIR, ignore_errors=True)
    paths.EXPORT_DIR.mkdir(parents=True)
    write_json(paths.EXPORT_DIR / "not_exported.json", {"champion": name, "reason": reason})
    write_json(paths.EXPORT_REPORT, {"exported": False, "champion": name, "reason": reason,
                                     "registered_model": champion.get("registered_model"),
                                     "version": champion.get("version")})


def tag_champion_version(registered: str, champion: dict, artifact_uri: str, tag: str) -> None:
    """Point the registered champion version at its ONNX file (the Keras model stays its model)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    version = champion.get("version")
    if champion.get("registered_model") != registered or version is None:
        log.warning("%s names %s version %s, params registry.model_name is %s: no registry tag set",
                    paths.CHAMPION, champion.get("registered_model"), version, registered)
        return
    try:
        MlflowClient().set_model_version_tag(registered, str(version), tag, artifact_uri)
    except MlflowException as exc:
        raise PipelineError(f"cannot tag {registered} version {version} with its ONNX file: {exc}") from None
    log.info("%s version %s: %s = %s", registered, version, tag, artifact_uri)


if __name__ == "__main__":
    run_main(main)
