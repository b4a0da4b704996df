"""One tiny end-to-end `dvc repro` per test session, read by the integration tests; a private copy
of it for each test that changes anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from .pipeline import PipelineCopy, make_copy
from .serve_kit import serve_server, serve_standin  # noqa: F401 - the web service's session fixtures


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder is in the slow tier (`make test-all`), marked or not: end-to-end tests
    run pipelines, stages, servers and browsers, which the fast tier (`make test`) leaves out."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory) -> PipelineCopy:
    """The pipeline built once and committed. Tests only read it (a test that changes params, outputs,
    git or the MLflow store takes `pipeline_fork`); at the end of the session it must be as built."""
    copy = make_copy(tmp_path_factory.mktemp("pipeline") / "repo")
    result = copy.dvc("repro")
    copy.first_repro_output = result.stdout + result.stderr
    copy.commit("built")
    yield copy
    changed = copy.changes()
    assert not changed, f"a test changed the shared tiny_pipeline (use pipeline_fork): {changed}"


@pytest.fixture
def pipeline_fork(tiny_pipeline, tmp_path) -> PipelineCopy:
    """A test's own copy of the built pipeline: git history, DVC cache and outputs, MLflow store."""
    return tiny_pipeline.fork(tmp_path / "repo")


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """One SQLite store for a module's stage runs: creating its tables costs 5-10 s on 2 cores."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
