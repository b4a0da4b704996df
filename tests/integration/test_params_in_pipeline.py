"""`dvc repro` with a misspelt train param stops at the first stage, with one line, before ingest
has done any work: every stage checks the whole params.yaml when it starts."""

from __future__ import annotations

from .pipeline import make_copy


def test_dvc_repro_with_a_bad_train_param_fails_before_ingest_runs(tmp_path):
    copy = make_copy(tmp_path / "repo", {"train.learnig_rate": 0.01})
    result = copy.dvc("repro", check=False, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "error: params.yaml train.learnig_rate: unknown key (did you mean 'learning_rate'?)" in output
    assert "Traceback" not in output
    assert "Running stage 'ingest'" in output and "Running stage 'eda'" not in output
    assert not (copy.root / "data/interim/faces.npz").exists() and not (copy.root / "mlflow.db").exists()
