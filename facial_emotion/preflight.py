"""Before a stage does any work: can it write every output `dvc.yaml` declares for it?

A read-only `reports/` used to surface as a traceback after `data/interim/faces.npz` had already
been rewritten, so the pair no longer matched. Checking every declared output first (a probe file
written and removed in each output's folder, and the free space beside it against the output's
last size) turns a read-only folder or a full disk into one line naming the path, with nothing
changed. A disk that fills up later, mid-stage, still ends in one line (cli.run_main), and each
file is written whole or not at all (files.atomic_path).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from .errors import PipelineError

MIN_FREE_BYTES = 1024 * 1024  # even a first run needs room for its small JSON and temp files
_TEMPLATE = re.compile(r"\$\{[^}]*\}")


class OutputNotWritable(PipelineError, OSError):
    """An output's folder is read-only, not ours, or on a disk without room for it."""


def declared_outputs(module: str, dvc_yaml: Path) -> list[Path]:
    """The outs, metrics and plots of every stage whose command runs `python -m <module>`; a
    templated path (`models/${item.name}`) stands for its fixed leading folders."""
    if not dvc_yaml.is_file():
        return []
    stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages") or {}
    command = re.compile(rf"-m\s+{re.escape(module)}(\s|$)")
    found: list[Path] = []
    for stage in stages.values():
        commands = stage.get("cmd") or []
        if not any(command.search(c) for c in ([commands] if isinstance(commands, str) else commands)):
            continue
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or []:
                name = next(iter(entry)) if isinstance(entry, dict) else str(entry)
                fixed = _TEMPLATE.split(name, 1)[0]
                path = Path(fixed if fixed == name else fixed.rsplit("/", 1)[0] or ".")
                if path not in found:
                    found.append(path)
    return found


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


def _nearest_folder(path: Path) -> Path:
    """Where writing `path` creates or replaces something: itself when it is a folder, else the
    nearest existing folder above it (missing folders are made there)."""
    if path.is_dir():
        return path
    for parent in path.parents:
        if parent.is_dir():
            return parent
    return Path(".")


def check_writable(outputs: list[Path], root: Path) -> None:
    """Raise OutputNotWritable for the first output that cannot be written; write nothing."""
    for output in outputs:
        target = root / output
        folder = _nearest_folder(target)
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-") as probe:
                probe.write(b"\0" * 4096)
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise OutputNotWritable(f"{output}: cannot write in {_shown(folder, root)} ({reason}); "
                                    "nothing was changed") from None
        needed = max(_size(target), MIN_FREE_BYTES)
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise OutputNotWritable(f"{output}: {os.strerror(errno.ENOSPC).lower()} in {_shown(folder, root)} "
                                    f"({free / 1e6:.3g} MB free, its last version took {needed / 1e6:.3g} MB); "
                                    "nothing was changed")


def _shown(folder: Path, root: Path) -> str:
    try:
        return f"{folder.resolve().relative_to(root.resolve())}/"
    except ValueError:
        return str(folder)
