"""Our models beside the studies' published figures, each marked with the split it came from."""

from __future__ import annotations

from typing import Any

from ..labels import EMOTIONS
from .published import STUDY_1, STUDY_2


def compare_with_studies(metrics: dict[str, dict[str, dict[str, float]]], split_strategy: str,
                         test_is_validation: bool) -> dict[str, Any]:
    """A JSON-ready table for the report: study 1 vs our six CNNs, study 2 vs our baselines."""
    if test_is_validation:
        our_split = "study1 split (study 1's own 80/20; test = validation)"
    elif split_strategy == "challenge":
        our_split = "challenge split: all of Training trains, validation = PublicTest, test = PrivateTest"
    else:
        our_split = f"{split_strategy} split: validation from Training, test = PublicTest + PrivateTest"
    cnn_rows = []
    for name in sorted(n for n in metrics if n.startswith("cnn-")):
        val, test = metrics[name]["validation"], metrics[name]["test"]
        cnn_rows.append({
            "model": name,
            "validation_macro_f1": val["macro_f1"], "test_macro_f1": test["macro_f1"],
            "validation_per_class_f1": {e: val[f"f1_{e}"] for e in EMOTIONS},
            "test_per_class_f1": {e: test[f"f1_{e}"] for e in EMOTIONS},
        })
    baseline_rows = []
    for ours, theirs in (("logreg", "logreg"), ("svm", "svm")):
        if ours in metrics:
            baseline_rows.append({"model": ours, "study_accuracy": STUDY_2["accuracy"][theirs],
                                  "our_validation_accuracy": metrics[ours]["validation"]["accuracy"],
                                  "our_test_accuracy": metrics[ours]["test"]["accuracy"]})
    best_cnn = max(cnn_rows, key=lambda r: r["validation_macro_f1"], default=None)
    if best_cnn:
        baseline_rows.append({"model": f"cnn (ours: {best_cnn['model']})", "study_accuracy": STUDY_2["accuracy"]["cnn"],
                              "our_validation_accuracy": metrics[best_cnn["model"]]["validation"]["accuracy"],
                              "our_test_accuracy": metrics[best_cnn["model"]]["test"]["accuracy"]})
    return {
        "our_split": our_split,
        "study_1": {**STUDY_1, "ours": cnn_rows},
        "study_2": {"title": STUDY_2["title"], "split": STUDY_2["split"], "rows": baseline_rows},
    }
