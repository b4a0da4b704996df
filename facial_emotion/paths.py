"""Where the repository root is, also inside `dvc exp run`'s temporary copy (DVC_ROOT)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The project root: DVC_ROOT when DVC runs the stage, else the nearest parent holding dvc.yaml."""
    env = os.environ.get("DVC_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").exists():
            return candidate
    return here
