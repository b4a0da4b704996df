"""Shared test fixtures: where the real FER2013 and FER+ files live, and state no test may leave
behind (the markers are registered in pyproject.toml)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FER2013 = REPO.parent / "shared" / "data" / "fer2013" / "fer2013.csv.gz"
DEFAULT_FERPLUS = REPO.parent / "shared" / "data" / "ferplus" / "fer2013new.csv"

def _real_file(variable: str, default: Path, what: str) -> Path:
    """A real data file from `variable` or its ../shared default; the test skips, saying where to put it."""
    path = Path(os.environ.get(variable) or default)
    if not path.is_file():
        pytest.skip(f"{what} not found at {path}; set {variable} or put it at {default.parent}/")
    return path


@pytest.fixture(scope="session")
def fer2013_path() -> Path:
    """The verified FER2013 copy (FER2013_PATH overrides ../shared/data/fer2013/); skips when absent."""
    return _real_file("FER2013_PATH", DEFAULT_FER2013, "FER2013 (the verified copy)")


@pytest.fixture(scope="session")
def ferplus_path() -> Path:
    """FER+'s vote file for that copy (FERPLUS_PATH overrides ../shared/data/ferplus/); skips when absent."""
    return _real_file("FERPLUS_PATH", DEFAULT_FERPLUS, "FER+'s fer2013new.csv (microsoft/FERPlus)")


@pytest.fixture(autouse=True)
def _no_stop_outlives_its_test():
    """A test that sends itself SIGTERM leaves the stop noted (errors.note_stop): later tests' atomic
    writes would refuse to land."""
    yield
    from facial_emotion.errors import clear_stop

    clear_stop()


@pytest.fixture(autouse=True)
def _mlflow_uris_stay_in_their_test():
    """mlflow.set_tracking_uri / set_registry_uri keep the URI in a module global and write it into
    os.environ, where later tests (and their subprocesses) would use it: a client would look up
    another test's registry. Both are put back after each test."""
    before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    for name in [k for k in os.environ if k.startswith("MLFLOW_") and k not in before]:
        del os.environ[name]
    os.environ.update(before)
