"""What `evaluate` writes: each model's metrics, study-1 report, confusion data and predictions, and
the champion, leaderboard and comparison summaries (also logged to MLflow)."""

from __future__ import annotations

import numpy as np

from .. import paths
from ..data.dataset import FaceDataset
from ..data.label_sets import label_set
from ..files import write_json, write_npz, write_text
from .metrics import HEADLINE, confusion_records, study_report
from .label_scores import align, by_label_set
from .scoring import Scored, log_scores_into_training_run


def write_model_outputs(name: str, scored: Scored, val: FaceDataset, test: FaceDataset, primary: str,
                        datasets: dict | None = None) -> None:
    """A model's metrics JSON, study-1 report, confusion data and predictions (on the primary label
    set: its faces and classes); the scores also land in the run that trained the model (or in this
    run, when that one is not in the store)."""
    import mlflow

    scores, (p_val, p_test) = scored.metrics[name], scored.probabilities[name]
    val_set, test_set = label_set(val, primary, "evaluate"), label_set(test, primary, "evaluate")
    classes = val_set.classes
    v_p, t_p = align(p_val[val_set.index], classes), align(p_test[test_set.index], classes)
    write_json(paths.METRICS_DIR / f"{name}.json", scores)
    report_path = paths.EVALUATION_DIR / f"{name}_classification_report.txt"
    write_text(report_path, f"{name}: validation ({len(v_p)} faces, {primary} labels), the first study's layout\n\n"
                            f"{study_report(val_set.labels, v_p, classes=classes)}\n"
                            f"{name}: test ({len(t_p)} faces, {primary} labels)\n\n"
                            f"{study_report(test_set.labels, t_p, classes=classes)}")
    write_json(paths.CONFUSION_DIR / f"{name}.json", confusion_records(test_set.labels, t_p, classes))
    write_npz(paths.PREDICTIONS_DIR / f"{name}.npz", validation=v_p.astype(np.float32), test=t_p.astype(np.float32),
              validation_labels=val_set.labels, test_labels=test_set.labels, classes=np.asarray(classes),
              label_set=np.asarray(primary), test_index=test_set.index)
    run_info = scored.run_infos[name]
    if not log_scores_into_training_run(run_info.get("run_id"), name, scores, report_path, run_info.get("model_uri"),
                                        datasets):
        mlflow.log_metrics({f"{name}.{split}_{k}": v for split, values in scores.items()
                            for k, v in values.items() if k in HEADLINE})


def write_summaries(champion: str, registration, scored: Scored, val: FaceDataset, cfg, split_summary: dict,
                    run_id: str, primary: str) -> None:
    """reports/champion.json, leaderboard.json and comparison.json, also logged to this run."""
    import mlflow

    from .comparison import compare_with_studies
    from .selection import rank_by_validation

    metrics, select_by = scored.metrics, cfg.select_by
    write_json(paths.CHAMPION, {
        "name": champion, "registered_model": registration.name, "version": registration.version,
        "alias": "champion", "model_uri": registration.model_uri, "new_version": registration.created,
        "select_by": select_by, "labels": primary, "validation": metrics[champion]["validation"],
        "test": metrics[champion]["test"], "members": scored.run_infos[champion].get("members"),
        "tta_flip": cfg.tta_flip, "data_source": val.source, "data_sha256": val.sha256, "synthetic": val.is_synthetic,
        "evaluate_run_id": run_id,
    })
    leaderboard = [{"model": n, "label_sets": {label_set: {split: {k: values[k] for k in HEADLINE}
                                                           for split, values in splits.items()}
                                               for label_set, splits in by_label_set(metrics[n], primary).items()},
                    **{split: {k: metrics[n][split][k] for k in HEADLINE} for split in ("validation", "test")}}
                   for n in rank_by_validation(metrics, select_by)]
    write_json(paths.LEADERBOARD, {"select_by": select_by, "labels": primary, "models": leaderboard})
    fer2013_scores = {n: by_label_set(m, primary).get("fer2013", {}) for n, m in metrics.items()}
    write_json(paths.COMPARISON, compare_with_studies({n: s for n, s in fer2013_scores.items() if "test" in s},
                                                      split_summary["strategy"], split_summary["test_is_validation"]))
    mlflow.set_tags({"champion": champion, "champion_version": registration.version, "labels": primary})
    mlflow.log_metrics({f"champion_validation_{k}": metrics[champion]["validation"][k] for k in HEADLINE})
    for path in (paths.CHAMPION, paths.LEADERBOARD, paths.COMPARISON):
        mlflow.log_artifact(str(path))
