"""Metrics agree with scikit-learn, the study's report layout is kept, the champion is chosen on validation,
and the comparison names its split."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_recall_fscore_support

from facial_emotion.errors import PipelineError
from facial_emotion.data.dataset import FaceDataset
from facial_emotion.evaluation.comparison import compare_with_studies
from facial_emotion.evaluation.metrics import HEADLINE, compute_metrics, confusion_records, study_report
from facial_emotion.evaluation.scoring import score
from facial_emotion.evaluation.selection import SelectionError, choose_champion, rank_by_validation
from facial_emotion.labels import EMOTIONS, NUM_CLASSES

Y_TRUE = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 6, 1, 3, 4])
Y_PRED = np.array([0, 2, 0, 0, 2, 5, 3, 3, 6, 3, 4, 6, 5, 2, 6, 6, 4, 1, 3, 4])


def probabilities_for(y_pred: np.ndarray, seed: int = 0) -> np.ndarray:
    """Random probability rows whose argmax is `y_pred`."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.5, size=(len(y_pred), NUM_CLASSES))
    p[np.arange(len(y_pred)), y_pred] = 1.0
    return p / p.sum(axis=1, keepdims=True)


def test_compute_metrics_equals_scikit_learn() -> None:
    metrics = compute_metrics(Y_TRUE, probabilities_for(Y_PRED))
    labels = list(range(NUM_CLASSES))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(Y_TRUE, Y_PRED))
    assert metrics["accuracy"] == pytest.approx(13 / 20)
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(Y_TRUE, Y_PRED))
    assert metrics["macro_f1"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, labels=labels, average="macro"))
    assert metrics["weighted_f1"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, labels=labels, average="weighted"))
    precision, recall, f1, _ = precision_recall_fscore_support(Y_TRUE, Y_PRED, labels=labels)
    for c, name in enumerate(EMOTIONS):
        assert metrics[f"precision_{name}"] == pytest.approx(precision[c])
        assert metrics[f"recall_{name}"] == pytest.approx(recall[c])
        assert metrics[f"f1_{name}"] == pytest.approx(f1[c])
    assert metrics["rows"] == 20
    assert set(HEADLINE) <= set(metrics)
    assert all(type(v) in (float, int) for v in metrics.values())  # JSON- and MLflow-friendly


def test_a_class_never_predicted_scores_zero_without_warnings() -> None:
    y_true = np.array([0, 1, 2, 3])
    y_pred = np.array([0, 0, 2, 3])  # disgust never predicted; surprise and neutral absent entirely
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = compute_metrics(y_true, probabilities_for(y_pred))
    assert metrics["precision_disgust"] == 0.0 and metrics["recall_disgust"] == 0.0
    assert metrics["f1_surprise"] == 0.0
    assert metrics["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=list(range(7)), average="macro",
                                                         zero_division=0))


def test_study_report_has_per_class_rows_and_four_averages() -> None:
    text = study_report(Y_TRUE, probabilities_for(Y_PRED))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for name in EMOTIONS:
        assert any(line.split()[0] == name for line in lines), name
    for average in ("micro avg", "macro avg", "weighted avg", "samples avg"):
        assert sum(line.startswith(average) for line in lines) == 1, average
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    happiness = next(line for line in lines if line.startswith("happiness")).split()
    assert happiness[-1] == str(int((Y_TRUE == 3).sum()))
    micro = next(line for line in lines if line.startswith("micro avg")).split()
    assert float(micro[-2]) == pytest.approx(accuracy_score(Y_TRUE, Y_PRED), abs=0.005)


def test_study_report_digits() -> None:
    text = study_report(Y_TRUE, probabilities_for(Y_PRED), digits=4)
    assert "0.6500" in text  # micro averages equal the accuracy, 13/20


def test_confusion_records_name_actual_and_predicted() -> None:
    records = confusion_records(np.array([0, 3]), probabilities_for(np.array([1, 3])))
    assert records == [{"actual": "anger", "predicted": "disgust"}, {"actual": "happiness", "predicted": "happiness"}]


# --- selection ------------------------------------------------------------------------------------


def metrics_of(validation: float, test: float) -> dict[str, dict[str, float]]:
    return {"validation": {"macro_f1": validation, "accuracy": validation},
            "test": {"macro_f1": test, "accuracy": test}}


def test_champion_is_chosen_on_validation_even_when_test_disagrees() -> None:
    metrics = {
        "cnn_relu": metrics_of(validation=0.61, test=0.55),
        "cnn_elu": metrics_of(validation=0.58, test=0.66),  # best on test, not on validation
        "logreg": metrics_of(validation=0.40, test=0.41),
    }
    assert choose_champion(metrics, "macro_f1") == "cnn_relu"
    assert rank_by_validation(metrics, "macro_f1") == ["cnn_relu", "cnn_elu", "logreg"]


def test_ties_are_broken_by_name() -> None:
    metrics = {"b": metrics_of(0.5, 0.9), "a": metrics_of(0.5, 0.1), "c": metrics_of(0.4, 1.0)}
    assert rank_by_validation(metrics, "accuracy") == ["a", "b", "c"]


def test_missing_select_by_metric_names_it_and_the_models() -> None:
    metrics = {"cnn": metrics_of(0.6, 0.6), "svm": {"validation": {"accuracy": 0.5}, "test": {"accuracy": 0.5}}}
    with pytest.raises(SelectionError, match="evaluate.select_by: 'macro_f1' is not a metric of svm$") as info:
        choose_champion(metrics, "macro_f1")
    assert isinstance(info.value, PipelineError)
    with pytest.raises(SelectionError, match="'recall' is not a metric of cnn, svm"):
        choose_champion(metrics, "recall")


def test_a_metric_only_on_test_does_not_count() -> None:
    metrics = {"cnn": {"validation": {"accuracy": 0.6}, "test": {"accuracy": 0.6, "macro_f1": 0.5}}}
    with pytest.raises(SelectionError, match="'macro_f1'"):
        choose_champion(metrics, "macro_f1")


def test_no_models_to_choose_from() -> None:
    with pytest.raises(SelectionError, match="no models"):
        choose_champion({}, "macro_f1")


@pytest.mark.parametrize("strategy, test_is_validation, says", [
    ("official", False, "validation from Training, test = PublicTest + PrivateTest"),
    ("challenge", False, "validation = PublicTest, test = PrivateTest"),
    ("study1", True, "test = validation"),
])
def test_comparison_names_the_split_its_figures_come_from(strategy, test_is_validation, says) -> None:
    assert says in compare_with_studies({}, strategy, test_is_validation)["our_split"]


@pytest.mark.parametrize("usage, private_rows", [(["PublicTest"] * 10 + ["PrivateTest"] * 10, 10),
                                                 (["PrivateTest"] * 20, None), (["PublicTest"] * 20, None)])
def test_private_test_is_scored_apart_only_beside_public_test(usage, private_rows) -> None:
    probs = probabilities_for(Y_PRED)
    test = FaceDataset(images=np.zeros((20, 48, 48), np.uint8), labels=Y_TRUE, usage=np.array(usage),
                       rows=np.arange(20))
    result = score(probs, test, probs, test)
    if private_rows is None:
        assert set(result) == {"validation", "test"}
    else:
        assert result["test_private"] == compute_metrics(Y_TRUE[10:], probs[10:])
