"""The report stage on small, fake but well-formed evaluate outputs: papermill runs
notebooks/classification_report.ipynb per model with a real kernel, reports/index.html is built from
its template and opened in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): no
console errors, nothing fetched, one leaderboard row per model; a screenshot lands in
test-artifacts/report_index.png. The pages say "synthetic" for synthetic data and only then.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import nbformat
import numpy as np
import pytest
import yaml

from facial_emotion.data.dataset import FaceDataset
from facial_emotion.data.synthetic import generate_faces
from facial_emotion.evaluation.comparison import compare_with_studies
from facial_emotion.evaluation.metrics import HEADLINE, compute_metrics, study_report
from facial_emotion.evaluation.selection import rank_by_validation
from facial_emotion.files import write_json, write_npz, write_text
from facial_emotion.labels import NUM_CLASSES
from facial_emotion.notebooks import run_notebook
from facial_emotion.report.index import ReportPaths, build_context, write_index
from facial_emotion.report.params_diff import Baseline

from .pipeline import pipeline_env, run_stage_module

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "notebooks" / "classification_report.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
EXTERNAL = re.compile(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)
MODELS = ("cnn-none-relu", "logreg", "ensemble")  # one with training curves, a baseline, the untrained ensemble

pytestmark = pytest.mark.slow


def write_outputs(root: Path, source: str, models=MODELS, seed: int = 3) -> dict[str, dict]:
    """What ingest, preprocess, train and evaluate leave for the report, small and self-consistent."""
    rng = np.random.default_rng(seed)
    images, labels, usage = generate_faces(140, seed)
    test = FaceDataset(images, labels, np.where(usage == "Training", "PublicTest", usage), np.arange(len(labels)),
                       source=source, sha256="cd" * 32)
    test.save(root / "data/processed/test.npz")
    y_val = rng.permutation(np.arange(60) % NUM_CLASSES)

    def probabilities(y: np.ndarray, skill: float) -> np.ndarray:
        logits = rng.normal(size=(len(y), NUM_CLASSES))
        logits[np.arange(len(y)), y] += skill
        return (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)

    metrics = {}
    for i, name in enumerate(models):
        p_val, p_test = probabilities(y_val, 1.0 + i), probabilities(test.labels, 1.0 + i)
        metrics[name] = {"validation": compute_metrics(y_val, p_val), "test": compute_metrics(test.labels, p_test)}
        write_json(root / f"reports/metrics/{name}.json", metrics[name])
        write_npz(root / f"reports/predictions/{name}.npz", validation=p_val, test=p_test,
                  validation_labels=y_val, test_labels=test.labels)
        write_text(root / f"reports/evaluation/{name}_classification_report.txt",
                   f"{name}: validation\n\n{study_report(y_val, p_val)}\n"
                   f"{name}: test\n\n{study_report(test.labels, p_test)}")
    champion = rank_by_validation(metrics, "macro_f1")[0]
    write_json(root / "reports/leaderboard.json", {"select_by": "macro_f1", "models": [
        {"model": n, **{s: {k: metrics[n][s][k] for k in HEADLINE} for s in ("validation", "test")}}
        for n in rank_by_validation(metrics, "macro_f1")]})
    write_json(root / "reports/champion.json", {
        "name": champion, "registered_model": "facial-emotion", "version": "3", "alias": "champion",
        "model_uri": "models:/facial-emotion@champion", "new_version": True, "select_by": "macro_f1",
        "validation": metrics[champion]["validation"], "test": metrics[champion]["test"],
        "members": ["cnn-none-relu", "cnn-none-elu"] if champion == "ensemble" else None, "tta_flip": False,
        "data_source": source, "synthetic": source == "synthetic", "evaluate_run_id": "0" * 32})
    write_json(root / "reports/comparison.json", compare_with_studies(metrics, "official", False))
    write_json(root / "reports/ingest_summary.json", {
        "source": source, "synthetic": source == "synthetic", "sha256": "ab" * 32, "rows": 700,
        "input": "synthetic(n_rows=700, seed=3)" if source == "synthetic" else "data/raw/fer2013.csv"})
    write_json(root / "reports/split_summary.json", {"strategy": "official", "source": source,
                                                     "sizes": {"train": 500, "val": 60, "test": len(test.labels)}})
    write_text(root / "reports/eda/eda.html", "<!DOCTYPE html><title>EDA</title><p>EDA page</p>")
    for name in models:
        if name.startswith("cnn-"):
            folder = root / "models" / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "history.csv").write_text(
                "accuracy,loss,val_accuracy,val_loss,epoch,learning_rate,epoch_seconds\n"
                + "".join(f"{0.2 + 0.1 * e},{2 - 0.2 * e},{0.25 + 0.05 * e},{1.9 - 0.1 * e},{e},0.001,3.0\n"
                          for e in range(1, 6)))
    return metrics


def write_run_info(root: Path, name: str, run_id: str | None, kind: str) -> None:
    write_json(root / "models" / name / "mlflow_run.json", {"run_id": run_id, "model_uri": None, "kind": kind,
                                                              "model_name": name, "best_epoch": 4})


def make_stage_copy(root: Path) -> Path:
    """Just what `python -m stages.report` needs, as a git checkout whose params.yaml then changes."""
    for folder in ("facial_emotion", "stages", "notebooks"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy2(REPO / name, root / name)
    env = pipeline_env(root)
    for command in (["git", "init", "-q"], ["git", "add", "params.yaml"], ["git", "commit", "-qm", "defaults"]):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["report"]["n_mistakes"] = 6
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def run_stage(root: Path, tracking_uri: str) -> subprocess.CompletedProcess:
    return run_stage_module(root, "report", tracking_uri, timeout=600)


def training_run(tracking_uri: str, artifacts: Path) -> str:
    """A stand-in for the run that trained the CNN, in the same store the stage logs to."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("training") or None
    experiment_id = (experiment.experiment_id if experiment
                     else client.create_experiment("training", artifact_location=artifacts.as_uri()))
    return client.create_run(experiment_id).info.run_id


@dataclass
class StageResult:
    root: Path
    result: subprocess.CompletedProcess
    tracking_uri: str
    cnn_run: str


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory, tracking_uri) -> StageResult:
    """The report stage run once on synthetic outputs for three models, with a demo grid present."""
    root = make_stage_copy(tmp_path_factory.mktemp("report") / "repo")
    write_outputs(root, "synthetic")
    cnn_run = training_run(tracking_uri, root.parent / "training-artifacts")
    write_run_info(root, "cnn-none-relu", cnn_run, "keras")
    write_run_info(root, "logreg", "f" * 32, "sklearn")  # a run this store does not have: skipped with a warning
    faces = FaceDataset.load(root / "data/processed/test.npz").images
    (root / "reports/demo").mkdir(parents=True)
    cv2.imwrite(str(root / "reports/demo/grid.png"), np.vstack([np.hstack(faces[r * 4:r * 4 + 4]) for r in range(2)]))
    return StageResult(root, run_stage(root, tracking_uri), tracking_uri, cnn_run)


def open_page(path: Path, screenshot: Path | None = None, viewport_width: int = 1280) -> dict:
    """Load a local page in headless Chromium; what it logged, fetched and showed (skips without Chromium)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (make browser)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make setup-dev)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport_width, "height": 900})
            errors, requested = [], []
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requested.append(request.url))
            page.goto(path.resolve().as_uri(), wait_until="load")
            result = {
                "errors": errors,
                "foreign": [u for u in requested if urlsplit(u).scheme != "data" and u != path.resolve().as_uri()],
                "leaderboard_rows": page.locator("table#leaderboard tbody tr").count(),
                "leaderboard_models": page.locator("table#leaderboard tbody tr").evaluate_all(
                    "rows => rows.map(r => r.dataset.model)"),
                "text": page.locator("body").inner_text(),
                "broken_images": page.evaluate(
                    "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length"),
                "images": page.evaluate("() => document.images.length"),
            }
            if screenshot is not None:
                screenshot.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
            return result
        finally:
            browser.close()


def code_outputs(notebook_path: Path) -> list:
    notebook = nbformat.read(str(notebook_path), as_version=4)
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


def test_report_stage_writes_every_page_and_logs_them_to_mlflow(synthetic_report):
    from mlflow import MlflowClient

    root, result = synthetic_report.root, synthetic_report.result
    assert result.returncode == 0, result.stderr[-4000:]
    assert "is not in this MLflow store" in result.stderr and "Traceback" not in result.stderr

    pages = root / "reports/html"
    assert sorted(p.name for p in pages.iterdir()) == sorted(f"{m}.{ext}" for m in MODELS for ext in ("html", "ipynb"))
    for model in MODELS:
        assert not [o for o in code_outputs(pages / f"{model}.ipynb")
                    if o.output_type == "error" or o.get("name") == "stderr"], model
        html = (pages / f"{model}.html").read_text(encoding="utf-8")
        assert "SYNTHETIC DATA" in html and model in html
        for section in ("Precision, recall and F1", "Confusion matrix", "F1 per class", "Training curves",
                        "Most confident mistakes", "Calibration"):
            assert section in html, (model, section)
        assert "analysis.classification_table" not in html  # code cells are left out
        assert not EXTERNAL.search(html)
    cnn_page = (pages / "cnn-none-relu.html").read_text(encoding="utf-8")
    assert 'alt="Line charts of loss, accuracy and learning rate' in cnn_page
    assert "weights kept from epoch 4" in cnn_page
    assert 'alt="Grid of the most confidently misclassified test faces' in cnn_page
    assert "the 6 most confident are shown" in cnn_page  # report.n_mistakes from params.yaml
    assert "No training curves: logreg is not trained epoch by epoch" in \
        (pages / "logreg.html").read_text(encoding="utf-8")
    assert "No training curves: the ensemble" in (pages / "ensemble.html").read_text(encoding="utf-8")

    source = (root / "reports/index.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(source) and "<script" not in source
    assert source.count('src="data:image/png;base64,') == 2  # the F1 heatmap and the demo grid
    assert "report.n_mistakes" in source and "params.yaml as committed at git HEAD" in source

    client = MlflowClient(tracking_uri=synthetic_report.tracking_uri)
    [run] = client.search_runs(client.get_experiment_by_name("facial-emotion").experiment_id,
                               filter_string="tags.dvc_stage = 'report' and attributes.status = 'FINISHED'")
    assert run.data.params["report.n_mistakes"] == "6" and run.data.tags["report_synthetic"] == "true"
    assert [a.path for a in client.list_artifacts(run.info.run_id, "report")] == ["report/index.html", "report/models"]
    assert sorted(a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(run.info.run_id, "report/models")) == \
        sorted(f"{m}.{ext}" for m in MODELS for ext in ("html", "ipynb"))
    assert [a.path for a in client.list_artifacts(synthetic_report.cnn_run, "report")] == ["report/cnn-none-relu.html"]


@pytest.mark.browser
def test_index_in_chromium_offline_one_row_per_model(synthetic_report):
    root = synthetic_report.root
    assert synthetic_report.result.returncode == 0, synthetic_report.result.stderr[-4000:]

    shown = open_page(root / "reports/index.html", ARTIFACTS / "report_index.png")

    assert shown["errors"] == [] and shown["foreign"] == []
    assert shown["leaderboard_rows"] == len(MODELS) == len(list((root / "reports/metrics").glob("*.json")))
    leaderboard = json.loads((root / "reports/leaderboard.json").read_text())
    assert shown["leaderboard_models"] == [row["model"] for row in leaderboard["models"]]
    assert shown["broken_images"] == 0 and shown["images"] == 2
    assert "SYNTHETIC DATA" in shown["text"] and "version 3" in shown["text"]

    model_page = open_page(root / "reports/html/cnn-none-relu.html", ARTIFACTS / "report_model.png",
                           viewport_width=1100)
    assert model_page["errors"] == [] and model_page["foreign"] == [] and model_page["broken_images"] == 0
    assert model_page["images"] == 5  # confusion, F1 bars, training curves, mistakes, calibration


@pytest.mark.browser
def test_pages_built_from_real_data_never_say_synthetic(tmp_path):
    write_outputs(tmp_path, "csv", models=("cnn-none-relu", "svm"))
    write_run_info(tmp_path, "cnn-none-relu", None, "keras")
    reports = tmp_path / "reports"
    run_notebook(TEMPLATE, reports / "html/cnn-none-relu.ipynb", reports / "html/cnn-none-relu.html", {
        "model_name": "cnn-none-relu",
        "metrics_path": str(reports / "metrics/cnn-none-relu.json"),
        "predictions_path": str(reports / "predictions/cnn-none-relu.npz"),
        "evaluation_report_path": str(reports / "evaluation/cnn-none-relu_classification_report.txt"),
        "history_path": str(tmp_path / "models/cnn-none-relu/history.csv"),
        "run_info_path": str(tmp_path / "models/cnn-none-relu/mlflow_run.json"),
        "test_data_path": str(tmp_path / "data/processed/test.npz"),
        "ingest_summary_path": str(reports / "ingest_summary.json"),
        "champion_path": str(reports / "champion.json"),
        "n_mistakes": 4,
    }, cwd=REPO)
    paths = ReportPaths(reports=reports, index=reports / "index.html", model_pages=reports / "html",
                        eda_page=reports / "eda/eda.html", demo_dir=reports / "demo")
    write_index(paths, build_context(paths, {"seed": 1}, Baseline(None, "no baseline: not a git checkout"), "abc123"))

    model_page = (reports / "html/cnn-none-relu.html").read_text(encoding="utf-8")
    assert "synthetic" not in model_page.lower() and "Most confident mistakes" in model_page
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert "synthetic" not in index.lower() and 'role="alert"' not in index
    assert 'href="html/cnn-none-relu.html"' in index and 'href="eda/eda.html"' in index
    assert ">svm<" in index  # no page for svm: listed without a link
    assert "No demo grid yet" in index and "no baseline: not a git checkout" in index

    shown = open_page(reports / "index.html")
    assert shown["errors"] == [] and shown["foreign"] == [] and shown["leaderboard_rows"] == 2
    assert "synthetic" not in shown["text"].lower() and "csv" in shown["text"]


def test_failing_cell_fails_the_stage_with_its_error_and_keeps_the_notebook(tmp_path, tracking_uri):
    stage_copy = make_stage_copy(tmp_path / "repo")
    write_outputs(stage_copy, "synthetic", models=("cnn-none-relu", "svm"))
    test_path = stage_copy / "data/processed/test.npz"
    test = FaceDataset.load(test_path)
    test.labels[:] = (test.labels + 1) % NUM_CLASSES  # test faces from another run: the predictions are stale
    test.save(test_path)

    result = run_stage(stage_copy, tracking_uri)

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: notebooks/classification_report.ipynb: cell [") and "ReportError" in last, \
        result.stderr[-2000:]
    assert "test labels differ from data/processed/test.npz" in last and "reports/html/" in last
    assert "Traceback" not in result.stderr
    kept = sorted((stage_copy / "reports/html").glob("*.ipynb"))
    assert len(kept) == 1 and any(o.output_type == "error" for o in code_outputs(kept[0]))
    assert not list((stage_copy / "reports/html").glob("*.html")) and not (stage_copy / "reports/index.html").exists()


