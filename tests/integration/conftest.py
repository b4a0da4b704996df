"""One tiny end-to-end `dvc repro` per test session, shared by the integration tests."""

from __future__ import annotations

import pytest

from .pipeline import PipelineCopy, make_copy
from .serve_kit import serve_server, serve_standin  # noqa: F401 - the web service's session fixtures


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory) -> PipelineCopy:
    copy = make_copy(tmp_path_factory.mktemp("pipeline") / "repo")
    result = copy.dvc("repro")
    copy.first_repro_output = result.stdout + result.stderr
    return copy


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """One SQLite store for a module's stage runs: creating its tables costs 5-10 s on 2 cores."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
