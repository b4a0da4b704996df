"""A stage started by `dvc` ends when that `dvc` ends.

DVC starts each stage's command and waits for it, but a SIGTERM or SIGKILL to `dvc` alone leaves
the command running: the orphan went on training and later overwrote `models/<variant>/` behind
DVC's back. So a stage that DVC started (DVC sets `DVC_STAGE`) finds that `dvc` among its parent and
grandparent (DVC runs the command with `$SHELL -c`, or `/bin/sh -c` where SHELL is unset; bash execs
a lone command, dash 0.5.12 stays in between and outlives a killed `dvc`), and is sent SIGTERM when it
ends: Linux's `prctl(PR_SET_PDEATHSIG)` at once where `dvc` is the parent, and a watchdog thread that
checks every second that the same `dvc` (pid and start time) still runs. Both start only when
`run_main` does, after the stage's imports, which take seconds: a `dvc` that died before then is not
found, and the stage stops at once. SIGTERM then takes the stage's usual orderly stop
(cli.run_main: MLflow run ended as KILLED, exit 143, no half-written file).
A stage run by hand (no `DVC_STAGE`) is left alone: `nohup python -m stages.train &` must survive
its shell.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
WATCH_EVERY_S = 1.0


def _set_parent_death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _is_dvc(argv: list[str]) -> bool:
    return any(Path(arg).name == "dvc" or arg.startswith("dvc.") for arg in argv[:3])


@dataclass(frozen=True)
class Process:
    """One process for as long as it lives: a pid is reused after its process ends, its start time is not."""

    pid: int
    started: str

    @classmethod
    def read(cls, pid: int) -> tuple[Process, list[str], int]:
        """The process, its argv and its parent's pid; OSError once it is gone."""
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # after the command's ")"
        return cls(pid, fields[19]), argv, int(fields[1])  # fields 22 (start time) and 4 (parent) of stat

    def alive(self) -> bool:
        try:
            return Process.read(self.pid)[0] == self
        except (OSError, IndexError, ValueError):
            return False


class Unknown(Exception):
    """/proc cannot tell (not Linux, or hidden): the stage keeps to its parent alone."""


def dvc_above(levels: int = 2) -> Process | None:
    """The `dvc` among this process's parent and grandparent, or None where neither is one."""
    pid = os.getppid()
    for _ in range(levels):
        if pid <= 1:
            return None
        try:
            process, argv, pid = Process.read(pid)
        except (OSError, IndexError, ValueError) as exc:
            raise Unknown(str(exc)) from exc
        if _is_dvc(argv):
            return process
    return None


def _watch(parent: int, dvc: Process | None, stop: threading.Event) -> None:
    while not stop.wait(WATCH_EVERY_S):
        if os.getppid() != parent or (dvc is not None and not dvc.alive()):
            gone = f"dvc (pid {dvc.pid})" if dvc is not None else f"the process that started this stage (pid {parent})"
            log.warning("%s is gone: stopping", gone)
            os.kill(os.getpid(), signal.SIGTERM)
            return


def end_with_parent(signum: int = signal.SIGTERM) -> threading.Event | None:
    """Under DVC: be sent `signum` when the `dvc` that started this stage ends. Returns the watchdog's
    stop event (None when not started by DVC, or when that `dvc` is already gone)."""
    if not os.environ.get("DVC_STAGE"):
        return None
    parent = os.getppid()
    _set_parent_death_signal(signum)
    try:
        dvc = dvc_above()
        known = True
    except Unknown:
        dvc, known = None, False
    if os.getppid() != parent or (known and dvc is None):  # orphaned before the request took effect
        log.warning("the dvc that started this stage is gone: stopping")
        os.kill(os.getpid(), signum)
        return None
    stop = threading.Event()
    threading.Thread(target=_watch, args=(parent, dvc, stop), name="dvc-watch", daemon=True).start()
    return stop
