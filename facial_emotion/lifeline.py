"""A stage started by `dvc` ends when that `dvc` ends.

DVC starts each stage's command and waits for it, but a SIGTERM or SIGKILL to `dvc` alone leaves
the command running: the orphan went on training and later overwrote `models/<variant>/` behind
DVC's back. So a stage that DVC started (DVC sets `DVC_STAGE`) asks to be sent SIGTERM when its
parent dies: Linux's `prctl(PR_SET_PDEATHSIG)`, set through ctypes, and a watchdog thread that sees
the parent change (its fallback where prctl is missing). Both start only when `run_main` does, after
the stage's imports, which take seconds: a `dvc` that died before then is found by looking for it
among the parent and grandparent (the shell DVC runs the command with may sit between). SIGTERM
then takes the stage's usual orderly stop (cli.run_main: MLflow run ended as KILLED, exit 143, no
half-written file).
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


def dvc_above(levels: int = 2) -> bool | None:
    """Whether `dvc` is this process's parent or grandparent; None where /proc cannot tell."""
    pid = os.getppid()
    for _ in range(levels):
        if pid <= 1:
            return False
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if _is_dvc(argv):
            return True
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the command name's ")" is the state
    return False


def _watch(parent: int, stop: threading.Event) -> None:
    while not stop.wait(WATCH_EVERY_S):
        if os.getppid() != parent:
            log.warning("the process that started this stage (pid %d) is gone: stopping", parent)
            os.kill(os.getpid(), signal.SIGTERM)
            return


def end_with_parent(signum: int = signal.SIGTERM) -> threading.Event | None:
    """Under DVC: be sent `signum` when the parent process ends. Returns the watchdog's stop event
    (None when not started by DVC, or when the parent is already gone)."""
    if not os.environ.get("DVC_STAGE"):
        return None
    parent = os.getppid()
    _set_parent_death_signal(signum)
    if os.getppid() != parent or dvc_above() is False:  # orphaned before the request took effect
        log.warning("the dvc that started this stage is gone: stopping")
        os.kill(os.getpid(), signum)
        return None
    stop = threading.Event()
    threading.Thread(target=_watch, args=(parent, stop), name="dvc-parent-watch", daemon=True).start()
    return stop
