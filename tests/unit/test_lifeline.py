"""How a stage finds the `dvc` that started it (lifeline.py); the signals themselves are tested
end to end against a real `dvc repro` in tests/integration/test_stage_faults.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facial_emotion.lifeline import Process, dvc_above, end_with_parent

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_is_known_by_its_pid_and_start_time():
    me = Process.read(os.getpid())[0]
    assert me.alive()
    assert not Process(me.pid, str(int(me.started) + 1)).alive()  # the same pid, reused by another process
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert not Process(ended.pid, me.started).alive()


@pytest.mark.parametrize("shell", [None, "/bin/sh"])
def test_dvc_is_found_as_parent_or_through_the_shell_between(tmp_path, shell):
    probe = "from facial_emotion.lifeline import dvc_above; d = dvc_above(); print(d.pid if d else None)"
    child = [sys.executable, "-c", probe]
    if shell:
        child = [shell, "-c", " ".join(f"'{arg}'" for arg in child) + "; true"]  # `; true`: the shell stays
    dvc = tmp_path / "dvc"  # a stand-in named like the real one, starting the command as DVC does
    dvc.write_text(f"#!{sys.executable}\nimport subprocess, sys, os\n"
                   f"p = subprocess.run({child!r}, capture_output=True, text=True, cwd={str(ROOT)!r})\n"
                   "print(os.getpid(), p.stdout.strip(), p.stderr[-2000:])\n")
    dvc.chmod(0o755)
    out = subprocess.run([str(dvc)], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out[0] == out[1], out  # the pid the stage found is the stand-in's


def test_a_stage_not_started_by_dvc_is_left_alone(monkeypatch):
    monkeypatch.delenv("DVC_STAGE", raising=False)
    assert end_with_parent() is None
    assert dvc_above() is None  # pytest's parents are no dvc
