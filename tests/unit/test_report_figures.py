"""The classification report's numbers, input checks, figures and the params diff of the index page."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from facial_emotion.errors import PipelineError
from facial_emotion.evaluation.metrics import compute_metrics
from facial_emotion.files import write_npz
from facial_emotion.labels import EMOTIONS, NUM_CLASSES
from facial_emotion.notebooks import figure_png
from facial_emotion.report import analysis, figures, inputs
from facial_emotion.report.data_source import is_synthetic, model_kind
from facial_emotion.report.params_diff import changed_params, git_baseline


def one_hot_probabilities(predicted: list[int], confidence: list[float]) -> np.ndarray:
    """Rows whose top class is `predicted` with the given probability, the rest spread evenly."""
    p = np.zeros((len(predicted), NUM_CLASSES))
    for i, (c, conf) in enumerate(zip(predicted, confidence)):
        p[i] = (1 - conf) / (NUM_CLASSES - 1)
        p[i, c] = conf
    return p


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(NUM_CLASSES), 12)
    logits = rng.normal(size=(len(y), NUM_CLASSES))
    logits[np.arange(len(y)), y] += 1.5
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p


def test_classification_table_matches_the_metrics_json_figures(scored):
    y, p = scored
    table = analysis.classification_table(y, p)
    metrics = compute_metrics(y, p)

    assert list(table.index) == [*EMOTIONS, "accuracy", "macro avg", "weighted avg"]
    assert table.loc["accuracy", "f1-score"] == pytest.approx(metrics["accuracy"])
    assert table.loc["macro avg", "f1-score"] == pytest.approx(metrics["macro_f1"])
    assert table.loc["weighted avg", "f1-score"] == pytest.approx(metrics["weighted_f1"])
    assert table.loc["disgust", "recall"] == pytest.approx(metrics["recall_disgust"])
    assert table["support"].tolist()[:NUM_CLASSES] == [12] * NUM_CLASSES and table.loc["accuracy", "support"] == len(y)
    analysis.check_matches_metrics(table, metrics, "m.json", "test", "p.npz")  # no error


def test_stale_metrics_are_an_error_naming_both_files(scored):
    y, p = scored
    metrics = {**compute_metrics(y, p), "macro_f1": 0.99}
    with pytest.raises(inputs.ReportError, match=r"m\.json: validation\.macro_f1 is 0\.990000 but p\.npz gives"):
        analysis.check_matches_metrics(analysis.classification_table(y, p), metrics, "m.json", "validation", "p.npz")


def test_confusion_rows_are_normalised_and_an_absent_class_is_zero():
    y = np.array([0, 0, 0, 1, 3, 3])
    p = one_hot_probabilities([0, 0, 2, 1, 3, 0], [0.9] * 6)
    normalised, counts = analysis.normalised_confusion(y, p)
    assert counts[0].tolist() == [2, 0, 1, 0, 0, 0, 0] and counts.sum() == 6
    assert normalised[0, 0] == pytest.approx(2 / 3) and normalised[3, 0] == pytest.approx(0.5)
    assert normalised[2].tolist() == [0.0] * NUM_CLASSES  # no fear face at all
    np.testing.assert_allclose(normalised[[0, 1, 3]].sum(axis=1), 1.0)


def test_confident_mistakes_are_the_wrong_ones_most_confident_first_ties_by_row():
    y = np.array([0, 1, 2, 3, 4, 5])
    p = one_hot_probabilities([1, 1, 0, 0, 4, 2], [0.6, 0.99, 0.8, 0.8, 0.9, 0.95])
    assert analysis.confident_mistakes(y, p, 10).tolist() == [5, 2, 3, 0]
    assert analysis.confident_mistakes(y, p, 2).tolist() == [5, 2]
    assert analysis.confident_mistakes(y, p, 0).tolist() == []
    assert analysis.mistake_caption(5, y, p) == "#5\ntrue surprise\nsaid fear 95%"


def test_reliability_bins_counts_and_ece_by_hand():
    # Four predictions at 0.95 confidence, 2 right; two at 0.55, both right.
    y = np.array([0, 0, 1, 1, 2, 2])
    p = one_hot_probabilities([0, 1, 1, 0, 2, 2], [0.95, 0.95, 0.95, 0.95, 0.55, 0.55])
    curve = analysis.reliability(y, p, n_bins=10)

    np.testing.assert_allclose(curve.mean_confidence, [0.55, 0.95])
    np.testing.assert_allclose(curve.accuracy, [1.0, 0.5])
    assert curve.counts.tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 0, 4] and len(curve.bin_edges) == 11
    assert curve.ece == pytest.approx((2 * 0.45 + 4 * 0.45) / 6)
    assert curve.overall_accuracy == pytest.approx(4 / 6)
    assert curve.overall_confidence == pytest.approx((4 * 0.95 + 2 * 0.55) / 6)


def test_reliability_tolerates_float32_sums_above_one_and_rejects_zero_bins():
    y = np.array([0, 1])
    p = one_hot_probabilities([0, 1], [1.0, 0.5]).astype(np.float32)
    p[0, 0] = np.nextafter(np.float32(1), np.float32(2))
    assert analysis.reliability(y, p, 5).counts.sum() == 2
    with pytest.raises(inputs.ReportError, match="calibration_bins"):
        analysis.reliability(y, p, 0)


def test_kept_epoch_prefers_the_training_record():
    history = pd.DataFrame({"epoch": [1, 2, 3], "val_accuracy": [0.2, 0.5, 0.4]})
    assert analysis.kept_epoch(history, None) == 2
    assert analysis.kept_epoch(history, {"best_epoch": 3}) == 3
    assert analysis.kept_epoch(history, {"best_epoch": 3, "kept_epoch": 5}) == 5  # train.restore: last
    assert analysis.kept_epoch(history.iloc[:0], None) is None


def test_predictions_file_checks_name_the_array(tmp_path):
    good = {"validation": np.full((3, 7), 1 / 7, np.float32), "validation_labels": np.array([0, 1, 2]),
            "test": np.full((2, 7), 1 / 7, np.float32), "test_labels": np.array([3, 6])}
    write_npz(tmp_path / "ok.npz", **good)
    loaded = inputs.load_predictions(tmp_path / "ok.npz")
    assert loaded.probabilities["test"].shape == (2, 7) and loaded.labels["validation"].tolist() == [0, 1, 2]

    cases = {
        "missing array 'test_labels'": {k: v for k, v in good.items() if k != "test_labels"},
        r"'test' has shape \(2, 6\)": {**good, "test": good["test"][:, :6]},
        "'validation_labels' has 2 labels for 3 rows": {**good, "validation_labels": np.array([0, 1])},
        "labels outside 0..6": {**good, "test_labels": np.array([3, 7])},
        "NaN or infinite": {**good, "test": np.full((2, 7), np.nan, np.float32)},
    }
    for message, arrays in cases.items():
        write_npz(tmp_path / "bad.npz", **arrays)
        with pytest.raises(inputs.ReportError, match=message) as caught:
            inputs.load_predictions(tmp_path / "bad.npz")
        assert isinstance(caught.value, PipelineError) and str(tmp_path / "bad.npz") in str(caught.value)
    with pytest.raises(inputs.ReportError, match="not found"):
        inputs.load_predictions(tmp_path / "absent.npz")


def test_metrics_history_and_row_checks(tmp_path):
    (tmp_path / "m.json").write_text('{"validation": {"accuracy": 0.5}, "test": {}}')
    with pytest.raises(inputs.ReportError, match=r"m\.json: validation\.balanced_accuracy is missing"):
        inputs.load_metrics(tmp_path / "m.json")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(inputs.ReportError, match="not valid JSON"):
        inputs.load_metrics(tmp_path / "m.json")

    assert inputs.load_history(tmp_path / "none.csv") is None
    (tmp_path / "h.csv").write_text("epoch,loss,accuracy,val_loss\n2,1.0,0.5,1.1\n1,1.2,0.4,1.3\n")
    with pytest.raises(inputs.ReportError, match="h.csv: missing column 'val_accuracy'"):
        inputs.load_history(tmp_path / "h.csv")
    (tmp_path / "h.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy\n2,1.0,0.5,1.1,0.4\n1,1.2,0.4,1.3,0.3\n")
    assert inputs.load_history(tmp_path / "h.csv")["epoch"].tolist() == [1, 2]

    with pytest.raises(inputs.ReportError, match="p.npz: test labels differ from t.npz"):
        inputs.check_same_rows(np.array([1, 2]), np.array([1, 3]), "p.npz", "t.npz")
    inputs.check_same_rows(np.array([1, 2]), np.array([1, 2]), "p.npz", "t.npz")


def test_every_figure_renders(scored):
    y, p = scored
    normalised, counts = analysis.normalised_confusion(y, p)
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [2, 1.5, 1.2], "accuracy": [0.2, 0.4, 0.5],
                            "val_loss": [1.9, 1.6, 1.7], "val_accuracy": [0.25, 0.45, 0.4],
                            "learning_rate": [1e-3, 1e-3, 5e-4]})
    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    f1 = {"validation": np.random.default_rng(2).random((3, 7)), "test": np.full((3, 7), np.nan)}
    built = [
        figures.confusion(normalised, counts, "test"),
        figures.f1_bars({"validation": analysis.per_class_f1(compute_metrics(y, p))}, {"validation": 0.4}),
        figures.training_curves(history, 2),
        figures.training_curves(history.drop(columns="learning_rate"), None),
        figures.mistakes_gallery(faces, [f"#{i}\ntrue a\nsaid b 90%" for i in range(5)], n_cols=4),
        figures.reliability_diagram(analysis.reliability(y, p, 10), "test"),
        figures.f1_heatmap(["a", "b", "c"], f1),
    ]
    for fig in built:
        assert figure_png(fig).startswith(b"\x89PNG")


def test_data_source_and_model_kind():
    assert is_synthetic({"source": "synthetic", "synthetic": True}) and not is_synthetic({"source": "csv"})
    assert is_synthetic(None, "synthetic") and not is_synthetic(None, "folders")
    assert model_kind("ensemble", None).startswith("ensemble")
    assert model_kind("cnn-smote-elu", {"kind": "keras"}).startswith("convolutional")
    assert model_kind("logreg", {"kind": "sklearn"}).startswith("baseline")


def test_changed_params_lists_changed_added_and_removed_keys():
    default = {"seed": 42, "train": {"epochs": 50, "optimizer": "adam"}, "eda": {"kernel": "python3"},
               "balance": {"flip_classes": ["disgust"]}}
    current = {"seed": 42, "train": {"epochs": 5, "optimizer": "adam", "new": True},
               "balance": {"flip_classes": ["disgust", "fear"]}}
    changes = [(c.key, c.default, c.current) for c in changed_params(current, default)]
    assert changes == [("balance.flip_classes", '["disgust"]', '["disgust", "fear"]'),
                       ("eda.kernel", "python3", "absent"),
                       ("train.epochs", "50", "5"),
                       ("train.new", "absent", "true")]
    assert changed_params(default, default) == []


def test_git_baseline_is_heads_params_or_says_why_not(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("seed: 1\n")
    outside = git_baseline(params)
    assert outside.params is None and outside.description.startswith("no baseline")

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "params.yaml"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "p"], cwd=tmp_path, check=True)
    params.write_text("seed: 2\n")
    baseline = git_baseline(params)
    assert baseline.params == {"seed": 1} and "git HEAD (" in baseline.description
    assert [(c.key, c.default, c.current) for c in changed_params({"seed": 2}, baseline.params)] == [("seed", "1", "2")]
