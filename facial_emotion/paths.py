"""Every artefact path of the pipeline, in one place, and where the repository root is.

Paths are relative to the repository root, where DVC runs each stage (`dvc.yaml` names the same
paths as the stages' deps and outs; tests/unit/test_paths.py checks that they agree). The root is
DVC_ROOT inside `dvc exp run`'s temporary copy.
"""

from __future__ import annotations

import os
from pathlib import Path

PARAMS_FILE = Path("params.yaml")
DVC_YAML = Path("dvc.yaml")  # the stages; the root is where it lies
DVC_LOCK = Path("dvc.lock")
RECIPES_DIR = Path("recipes")  # named param overrides, run with `make recipe RECIPE=<name>`
MLFLOW_DB = Path("mlflow.db")  # the local MLflow store when MLFLOW_TRACKING_URI is unset (never in DVC or git)
MLARTIFACTS_DIR = Path("mlartifacts")  # that store's artifacts
STATE_DIR = Path(".state")  # training snapshots for resuming, at the work tree's root (models/resume.py)

# data/: ingest -> interim -> processed splits -> balanced training sets
INTERIM_FACES = Path("data/interim/faces.npz")
PROCESSED_DIR = Path("data/processed")  # {train,val,test}.npz
BALANCED_DIR = Path("data/balanced")  # <method>/ per balancing method
MODELS_DIR = Path("models")  # <model>/ per trained model (facial_emotion.models.store)
RUN_INFO = "mlflow_run.json"  # in each model folder: the MLflow run id and model URI
TEACHERS_DIR = MODELS_DIR / "teachers"  # <seed>/ per teacher network (distill.teachers; the teacher stages)
TEACHER_PROBABILITIES = Path("data/teacher/probabilities.npz")  # the teachers' mean probabilities per training face
EXPORT_DIR = MODELS_DIR / "export"  # the champion as ONNX (the export stage)
EXPORT_ONNX = EXPORT_DIR / "model.onnx"

# reports/: small JSON summaries and metrics (in git), pages and images (DVC outputs)
REPORTS_DIR = Path("reports")
INGEST_SUMMARY = REPORTS_DIR / "ingest_summary.json"
SPLIT_SUMMARY = REPORTS_DIR / "split_summary.json"
BALANCE_SUMMARY = REPORTS_DIR / "balance_summary.json"
EDA_DIR = REPORTS_DIR / "eda"  # eda.ipynb, eda.html, figures.json
METRICS_DIR = REPORTS_DIR / "metrics"  # <model>.json
EVALUATION_DIR = REPORTS_DIR / "evaluation"  # <model>_classification_report.txt
CONFUSION_DIR = REPORTS_DIR / "confusion"  # <model>.json, for `dvc plots`
PREDICTIONS_DIR = REPORTS_DIR / "predictions"  # <model>.npz
CHAMPION = REPORTS_DIR / "champion.json"
LEADERBOARD = REPORTS_DIR / "leaderboard.json"
COMPARISON = REPORTS_DIR / "comparison.json"
EXPORT_REPORT = REPORTS_DIR / "export.json"  # the export's parity check: agreement, largest difference
DEMO_DIR = REPORTS_DIR / "demo"  # the demo stage's outputs
DEMO_LIVE_DIR = REPORTS_DIR / "demo-live"  # the webcam demo's outputs (not a DVC output)
MODEL_PAGES_DIR = REPORTS_DIR / "html"  # <model>.html
INDEX_HTML = REPORTS_DIR / "index.html"


def processed(split: str) -> Path:
    """data/processed/<split>.npz for split train, val or test."""
    return PROCESSED_DIR / f"{split}.npz"


def repo_root() -> Path:
    """The project root: DVC_ROOT when DVC runs the stage, else the nearest parent holding dvc.yaml."""
    env = os.environ.get("DVC_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / DVC_YAML).exists():
            return candidate
    return here
