"""Publishing a finished run into docs/results/: the page, the figures and a README with the commit,
the command and each stage's wall time, hand-written notes kept; a synthetic run, or one whose
pages hold pixel rows, is refused and nothing is written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facial_emotion.report.publish import BEGIN, END, PublishError, publish


def _run_copy(tiny_pipeline, tmp_path, synthetic: bool):
    run = tmp_path / "run"
    shutil.copytree(tiny_pipeline.root / "reports", run / "reports")
    shutil.copy(tiny_pipeline.root / "mlflow.db", run / "mlflow.db")
    shutil.copytree(tiny_pipeline.root / ".git", run / ".git")
    summary = json.loads((run / "reports" / "ingest_summary.json").read_text())
    summary["synthetic"] = synthetic  # stands in for a real-data run: only the flag differs
    (run / "reports" / "ingest_summary.json").write_text(json.dumps(summary))
    return run


def test_a_synthetic_run_is_not_published(tiny_pipeline, tmp_path):
    with pytest.raises(PublishError, match="SYNTHETIC"):
        publish(_run_copy(tiny_pipeline, tmp_path, synthetic=True), tmp_path / "out", "dvc repro")
    assert not (tmp_path / "out").exists()


def test_published_results_name_commit_command_and_stage_times(tiny_pipeline, tmp_path):
    target = publish(_run_copy(tiny_pipeline, tmp_path, synthetic=False), tmp_path / "out", "dvc repro")
    assert (target / "index.html").read_bytes() == (tiny_pipeline.root / "reports" / "index.html").read_bytes()
    assert (target / "metrics" / "cnn-smote-elu.json").exists() and (target / "leaderboard.json").exists()
    # every page index.html links is there, as HTML; the notebooks they were rendered from are not
    for link in ["eda/eda.html"] + [f"html/{row['model']}.html" for row in
                                    json.loads((target / "leaderboard.json").read_text())["models"]]:
        assert f'href="{link}"' in (target / "index.html").read_text() and (target / link).is_file(), link
    assert not list(target.rglob("*.ipynb"))
    text = (target / "README.md").read_text()
    assert "- command: `dvc repro`" in text and "- commit: `" in text and "cores" in text
    leaderboard = json.loads((target / "leaderboard.json").read_text())
    for row in leaderboard["models"]:
        assert f"| {row['model']} | {row['validation']['accuracy']:.4f} |" in text
    for stage in ("ingest", "preprocess", "train@none-relu", "evaluate", "report"):
        assert f"| {stage} |" in text, f"no wall time for {stage}"
    # the labels it learned, and every model's test scores on both label sets (synthetic votes here)
    assert "- labels: FER2013 labels (`labels.source: fer2013`): " in text
    assert "| model | FER2013 labels | FER+ majority labels |" in text
    for row in leaderboard["models"]:
        own, plus = row["label_sets"]["fer2013"]["test"], row["label_sets"]["ferplus"]["test"]
        assert (f"| {row['model']} | {own['accuracy']:.4f} / {own['macro_f1']:.4f} "
                f"| {plus['accuracy']:.4f} / {plus['macro_f1']:.4f} |") in text


def test_hand_written_notes_survive_a_second_publish(tiny_pipeline, tmp_path):
    run = _run_copy(tiny_pipeline, tmp_path, synthetic=False)
    target = publish(run, tmp_path / "out", "dvc repro")
    readme = target / "README.md"
    readme.write_text(readme.read_text().replace(END, END + "\n\n## Measured by hand\n\nstudy 1 split: 0.61"))
    publish(run, target, "dvc repro again")
    text = readme.read_text()
    assert text.endswith("## Measured by hand\n\nstudy 1 split: 0.61\n") and "- command: `dvc repro again`" in text
    assert text.count(BEGIN) == 1 and "- command: `dvc repro`\n" not in text


def test_a_page_holding_a_pixel_row_is_refused_and_nothing_is_written(tiny_pipeline, tmp_path):
    run = _run_copy(tiny_pipeline, tmp_path, synthetic=False)
    page = run / "reports" / "html" / "logreg.html"
    row = " ".join(str(v) for v in np.random.default_rng(1).integers(0, 256, 48 * 48))
    page.write_text(page.read_text().replace("</body>", f"<pre>{row}</pre></body>"))
    with pytest.raises(PublishError, match=r"logreg\.html: holds what looks like a pixel row"):
        publish(run, tmp_path / "out", "dvc repro")
    assert not (tmp_path / "out").exists()
