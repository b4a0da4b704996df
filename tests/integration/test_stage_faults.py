"""Stages against failing disks and a killed `dvc` (issue 41, cases 3 and 4), for real: a read-only
bind mount and a full tmpfs over an output folder of a throwaway copy, and SIGTERM or SIGKILL to a
real `dvc repro` while its stage works. Mounting needs root (or CAP_SYS_ADMIN): skipped without it."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from .pipeline import PipelineCopy, make_copy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> PipelineCopy:
    """A copy whose ingest stage has run once (420 synthetic faces)."""
    copy = make_copy(tmp_path_factory.mktemp("faults") / "pipeline")
    _ingest(copy, check=True)
    return copy


def _ingest(copy: PipelineCopy, check: bool = False) -> subprocess.CompletedProcess:
    env = {**copy.env, "MLFLOW_TRACKING_URI": copy.tracking_uri}
    return subprocess.run([sys.executable, "-m", "stages.ingest"], cwd=copy.root, env=env, capture_output=True,
                          text=True, timeout=300, check=check)


def _fingerprints(root: Path, *names: str) -> dict[str, tuple[str, int]]:
    """Each file's sha256 and modification time (a rewrite with equal bytes still changes the latter)."""
    return {name: (hashlib.sha256((root / name).read_bytes()).hexdigest(), (root / name).stat().st_mtime_ns)
            for name in names}


@contextmanager
def _mounted(*command: str, target: Path):
    result = subprocess.run(["mount", *command, str(target)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here (needs root or CAP_SYS_ADMIN): {result.stderr.strip() or result.returncode}")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def _read_only_bind(folder: Path):
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here (needs root or CAP_SYS_ADMIN): {bind.stderr.strip()}")
    try:
        return _mounted("-o", "remount,bind,ro", target=folder)
    except BaseException:
        subprocess.run(["umount", str(folder)], check=True)
        raise


def _one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


OUTPUTS = ("data/interim/faces.npz", "reports/ingest_summary.json")


def test_read_only_reports_is_one_line_and_changes_no_output(ingested):
    before = _fingerprints(ingested.root, *OUTPUTS)
    reports = ingested.root / "reports"
    with _read_only_bind(reports):
        assert subprocess.run(["touch", str(reports / "probe")], capture_output=True).returncode != 0, \
            "the read-only bind mount still takes writes"
        result = _ingest(ingested)
    _one_line_error(result, "reports/ingest_summary.json", "read-only")
    assert _fingerprints(ingested.root, *OUTPUTS) == before  # faces.npz was rewritten before the fix


def test_full_disk_is_one_line_and_changes_no_output(ingested):
    interim = ingested.root / "data" / "interim"
    faces = (interim / "faces.npz").read_bytes()
    summary = ingested.root / OUTPUTS[1]
    summary_before = _fingerprints(ingested.root, OUTPUTS[1])
    size_kb = len(faces) // 1024 + 64
    with _mounted("-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", target=interim):
        (interim / "faces.npz").write_bytes(faces)
        with open(interim / "filler", "wb", buffering=0) as filler:  # fill what is left
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError:
                pass
        inside = _fingerprints(ingested.root, OUTPUTS[0])
        result = _ingest(ingested)
        assert _fingerprints(ingested.root, OUTPUTS[0]) == inside
        assert sorted(p.name for p in interim.iterdir()) == ["faces.npz", "filler"]  # no temp file left
    _one_line_error(result, "data/interim/faces.npz", "space")
    assert _fingerprints(ingested.root, OUTPUTS[1]) == summary_before and summary.exists()


def _stage_process(dvc: psutil.Process, module: str, timeout: float) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in dvc.children(recursive=True):
            try:
                if module in " ".join(child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    raise AssertionError(f"no {module} process under dvc within {timeout:.0f} s")


def _wait_for_line(log: Path, words: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while words not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no {words!r} in {log} within {timeout:.0f} s"
        time.sleep(0.2)


@pytest.mark.parametrize("signum, shell", [(signal.SIGTERM, None), (signal.SIGKILL, None),
                                           (signal.SIGKILL, "/bin/bash")],
                         ids=["SIGTERM-sh", "SIGKILL-sh", "SIGKILL-bash"])
def test_stage_ends_with_the_dvc_that_started_it(tmp_path, signum, shell):
    """The signal goes to `dvc` alone (its own session, not its group): the landed main's stage went
    on as an orphan and wrote data/interim/faces.npz after dvc had gone. Without SHELL (as in CI) DVC
    runs the stage with `/bin/sh -c`, and dash stays between them and outlives `dvc`: the stage's
    parent lives on, so only a watch on `dvc` itself ends it; bash execs the stage, making `dvc` its parent."""
    if shell is not None and not Path(shell).exists():
        pytest.skip(f"no {shell} here")
    copy = make_copy(tmp_path / "pipeline", {"data.synthetic_rows": 10000})  # about 15 s of ingest work
    env = {k: v for k, v in copy.env.items() if k != "SHELL"} | ({"SHELL": shell} if shell else {})
    log_path = tmp_path / "dvc.log"
    log = log_path.open("wb")
    dvc = subprocess.Popen([str(Path(sys.executable).parent / "dvc"), "repro", "ingest"], cwd=copy.root,
                           env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    stage = None
    try:
        stage = _stage_process(psutil.Process(dvc.pid), "stages.ingest", timeout=120)
        _wait_for_line(tmp_path / "dvc.log", "SYNTHETIC faces", timeout=120)  # its main() is at work
        assert stage.is_running()
        dvc.send_signal(signum)
        dvc.wait(timeout=30)
        killed = time.monotonic()
        try:  # the signal is immediate; Python runs its handler once the main thread leaves the C call it is in
            stage.wait(timeout=60)  # not our child: psutil cannot give its exit status
        except psutil.TimeoutExpired:
            raise AssertionError("the stage still runs 60 s after dvc ended") from None
        took = time.monotonic() - killed
        shown = log_path.read_text(errors="replace")[-3000:]
        assert took < 30, f"the stage ended {took:.1f} s after dvc\n{shown}"
        interim = copy.root / "data" / "interim"
        leftovers = sorted(p.name for p in interim.iterdir()) if interim.exists() else []
        assert leftovers == [], f"{leftovers}\n{shown}"  # no faces.npz written behind dvc's back, no temp file
    finally:
        log.close()
        if stage is not None and stage.is_running():
            stage.kill()
        if dvc.poll() is None:
            dvc.kill()
            dvc.wait()
