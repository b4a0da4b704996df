"""notebooks/eda.ipynb under papermill with a real kernel, on small synthetic data, and the `eda` stage.

The data gets a few blank faces and duplicate groups planted (the generator makes none), so the
report's blank and duplicate sections run with thumbnails, as they would on FER2013.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest

from facial_emotion.data.dataset import FaceDataset
from facial_emotion.data.ingest import IngestResult, summarise
from facial_emotion.data.synthetic import generate_faces
from facial_emotion.files import write_json
from facial_emotion.labels import EMOTIONS, NUM_CLASSES
from facial_emotion.notebooks import run_notebook

from .pipeline import run_stage_module

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "notebooks" / "eda.ipynb"
EXTERNAL = re.compile(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)

pytestmark = pytest.mark.slow


def write_inputs(faces_path: Path, summary_path: Path, source: str, n_rows: int = 350) -> FaceDataset:
    """A FaceDataset and its real ingest summary, with 2 blank images and 2 duplicate groups."""
    images, labels, usage = generate_faces(n_rows, 7)
    images[[3, 40]] = np.array([0, 255], dtype=np.uint8)[:, None, None]
    images[[10, 11]] = images[12]
    labels[11] = (labels[12] + 1) % NUM_CLASSES  # a duplicate with a conflicting label
    images[n_rows - 1], labels[n_rows - 1] = images[20], labels[20]  # a duplicate across usages
    dataset = FaceDataset(images, labels, usage, np.arange(n_rows), source=source, sha256="ab" * 32)
    dataset.save(faces_path)
    write_json(summary_path, summarise(IngestResult(dataset, source, "test input", dataset.sha256), 1.0))
    return dataset


def test_eda_notebook_on_synthetic_data(tmp_path):
    dataset = write_inputs(tmp_path / "faces.npz", tmp_path / "summary.json", "synthetic")
    executed, html, figures_path = tmp_path / "eda.ipynb", tmp_path / "eda.html", tmp_path / "figures.json"

    run_notebook(TEMPLATE, executed, html, {
        "faces_path": str(tmp_path / "faces.npz"),
        "summary_path": str(tmp_path / "summary.json"),
        "figures_path": str(figures_path),
        "samples_per_class": 3,
        "seed": 1,
    }, cwd=REPO)

    figures = json.loads(figures_path.read_text())
    counts = np.bincount(dataset.labels, minlength=NUM_CLASSES)
    assert {name: figures[f"count_{name}"] for name in EMOTIONS} == dict(zip(EMOTIONS, counts.tolist()))
    assert figures["rows"] == len(dataset) and figures["synthetic"] is True
    assert figures["imbalance_ratio"] == pytest.approx(counts.max() / counts.min(), abs=1e-3)
    assert figures["blank_images"] == 2 and figures["duplicate_copies"] == 3 and figures["duplicate_groups"] == 2
    assert figures["duplicate_groups_conflicting_labels"] == 1 and figures["duplicate_groups_across_usages"] == 1

    page = html.read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" in page and 'role="alert"' in page
    for section in ("Class balance", "Sample faces per class", "Mean face per class", "Pixel intensities",
                    "Blank images", "Duplicate images"):
        assert section in page
    assert 'alt="Thumbnails of blank images"' in page and 'alt="Thumbnails of groups of identical images' in page
    assert "statistics.pixel_statistics" not in page  # code cells are left out
    assert not EXTERNAL.search(page)
    notebook = nbformat.read(str(executed), as_version=4)
    assert not [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
                if o.output_type == "error" or o.get("name") == "stderr"]


@pytest.fixture
def stage_copy(tmp_path) -> Path:
    """Just what `python -m stages.eda` needs."""
    root = tmp_path / "repo"
    for folder in ("facial_emotion", "stages", "notebooks"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy2(REPO / name, root / name)
    (root / "data" / "interim").mkdir(parents=True)
    return root


def run_stage(root: Path, tracking_uri: str) -> subprocess.CompletedProcess:
    return run_stage_module(root, "eda", tracking_uri, timeout=300)


def test_eda_stage_on_real_looking_data_logs_to_mlflow(stage_copy, tracking_uri):
    import mlflow

    write_inputs(stage_copy / "data/interim/faces.npz", stage_copy / "reports/ingest_summary.json", "csv")
    result = run_stage(stage_copy, tracking_uri)
    assert result.returncode == 0, result.stderr[-3000:]

    page = (stage_copy / "reports/eda/eda.html").read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" not in page and "Class balance" in page
    figures = json.loads((stage_copy / "reports/eda/figures.json").read_text())
    assert figures["synthetic"] is False

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(figures["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["dvc_stage"] == "eda"
    assert run.data.metrics["eda_rows"] == figures["rows"] and run.data.params["eda.kernel"] == "python3"
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id, "eda")) == [
        "eda/eda.html", "eda/eda.ipynb", "eda/figures.json"]


def test_failing_cell_fails_the_stage_with_its_error_and_keeps_the_notebook(stage_copy, tracking_uri):
    write_inputs(stage_copy / "data/interim/faces.npz", stage_copy / "reports/ingest_summary.json", "synthetic")
    summary_path = stage_copy / "reports/ingest_summary.json"
    summary = json.loads(summary_path.read_text())
    summary["sha256"] = "0" * 64  # a summary from other data: the notebook's check raises
    summary_path.write_text(json.dumps(summary))

    result = run_stage(stage_copy, tracking_uri)

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: notebooks/eda.ipynb: cell [") and "EdaError" in last, result.stderr[-2000:]
    assert "does not match data/interim/faces.npz" in last and "reports/eda/eda.ipynb" in last
    assert "Traceback" not in result.stderr
    kept = nbformat.read(str(stage_copy / "reports/eda/eda.ipynb"), as_version=4)
    assert any(o.output_type == "error" for cell in kept.cells if cell.cell_type == "code" for o in cell.outputs)
    assert not (stage_copy / "reports/eda/eda.html").exists()
