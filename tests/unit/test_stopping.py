"""A stage stopped by SIGTERM ends its MLflow run as KILLED and says so in one line; runs that a
dead process left RUNNING are marked FAILED by the next stage on the same host, and only those.

(The same with a real training stage and a real SIGTERM from outside: tests/integration/test_stopping.py.)
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import weakref

import mlflow
import numpy as np
import psutil
import pytest

from facial_emotion import tracking
from facial_emotion.abandoned_runs import HOST, PID, PID_STARTED, process_tags
from facial_emotion.cli import run_main
from facial_emotion.errors import Stopped
from facial_emotion.files import write_npz


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module: creating its tables takes seconds on 2 busy cores."""
    folder = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.setenv("DVC_ROOT", str(folder))
        yield mlflow.MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")


@pytest.fixture()
def restore_sigterm():
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_in_a_stage_ends_its_run_as_killed_with_one_line(store, capsys, restore_sigterm):
    seen = {}

    def main():
        with tracking.stage_run("train@none-relu", {"train": {"epochs": 3}}, experiment="stop-test") as run:
            seen["run_id"] = run.info.run_id
            os.kill(os.getpid(), signal.SIGTERM)  # what `timeout`, `docker stop` and CI cancellation send
            seen["went_on"] = True

    with pytest.raises(SystemExit) as info:
        run_main(main)
    assert info.value.code == 128 + signal.SIGTERM and "went_on" not in seen
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: stopped by SIGTERM; MLflow run {seen['run_id']} ended as KILLED"
    assert not any("Traceback" in line for line in err)
    assert store.get_run(seen["run_id"]).info.status == "KILLED"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # a second SIGTERM ends the process at once


def test_stopped_before_any_run_is_one_line_too(store, capsys, restore_sigterm):
    with pytest.raises(SystemExit) as info:
        run_main(lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert info.value.code == 143
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: stopped by SIGTERM"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the ignored Stopped, on purpose
def test_a_stop_swallowed_on_the_way_still_writes_nothing_and_exits_143(tmp_path, capsys, restore_sigterm):
    """The handler's Stopped can be raised inside a garbage-collection callback, where Python prints
    "Exception ignored" and goes on (seen in CI: SQLAlchemy's weakref callback); the stage then wrote
    data/interim/faces.npz after dvc had gone."""
    out = tmp_path / "faces.npz"

    def main():
        class Callback:
            pass

        target = Callback()
        ref = weakref.ref(target, lambda _: os.kill(os.getpid(), signal.SIGTERM))  # Stopped raised, then ignored
        del target
        gc.collect()
        assert ref() is None
        write_npz(out, x=np.zeros(3))

    with pytest.raises(SystemExit) as info:
        run_main(main)
    assert info.value.code == 143
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: stopped by SIGTERM"
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temp file


def test_a_stop_swallowed_after_the_last_write_still_exits_143(capsys, restore_sigterm):
    def main():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except Stopped:
            pass  # what a careless `except BaseException` would do

    with pytest.raises(SystemExit) as info:
        run_main(main)
    assert info.value.code == 143


def test_ctrl_c_ends_the_run_as_killed(store):
    with pytest.raises(KeyboardInterrupt):
        with tracking.stage_run("eda", experiment="stop-test") as run:
            raise KeyboardInterrupt
    assert store.get_run(run.info.run_id).info.status == "KILLED"


def test_an_error_still_ends_the_run_as_failed(store):
    with pytest.raises(ValueError):
        with tracking.stage_run("eda", experiment="stop-test") as run:
            raise ValueError("boom")
    assert store.get_run(run.info.run_id).info.status == "FAILED"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_runs_left_running_by_dead_processes_on_this_host_are_marked_failed(store, caplog):
    experiment_id = tracking.configure("stale-test")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        mine = process_tags()
        started = f"{psutil.Process(alive.pid).create_time():.3f}"
        runs = {
            "dead": {**mine, PID: str(_dead_pid())},
            "alive": {**mine, PID: str(alive.pid), PID_STARTED: started},
            "recycled_pid": {**mine, PID: str(alive.pid), PID_STARTED: "1000.000"},  # same pid, another process
            "other_host": {**mine, HOST: "another-machine", PID: str(_dead_pid())},
            "untagged": {},
        }
        ids = {name: store.create_run(experiment_id, tags=tags, run_name=name).info.run_id
               for name, tags in runs.items()}
        with caplog.at_level(logging.WARNING, logger="facial_emotion.abandoned_runs"):
            with tracking.stage_run("ingest", experiment="stale-test") as run:
                statuses = {name: store.get_run(run_id).info.status for name, run_id in ids.items()}
                new_tags = store.get_run(run.info.run_id).data.tags
    finally:
        alive.kill()
        alive.wait()
    assert statuses == {"dead": "FAILED", "alive": "RUNNING", "recycled_pid": "FAILED", "other_host": "RUNNING",
                        "untagged": "RUNNING"}
    assert store.get_run(ids["dead"]).data.tags["ended_by"].startswith("a later stage: its process")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("marked 2 MLflow run(s) FAILED that processes gone from")
    assert ids["dead"] in lines[0] and ids["recycled_pid"] in lines[0]
    assert new_tags[PID] == str(os.getpid()) and new_tags[HOST] == mine[HOST] and PID_STARTED in new_tags


def test_stopped_is_not_swallowed_by_except_exception():
    assert not issubclass(Stopped, Exception)
