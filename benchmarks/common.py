"""Shared bits of the benchmark scripts: where the real FER2013 is, and measuring in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FER2013 = REPO.parent / "shared" / "data" / "fer2013" / "fer2013.csv.gz"
DEFAULT_FERPLUS = REPO.parent / "shared" / "data" / "ferplus" / "fer2013new.csv"


def fer2013_path(argument: str | None = None) -> Path:
    """--data, else FER2013_PATH, else ../shared/data/fer2013/fer2013.csv.gz; exits with a reason when absent."""
    path = Path(argument or os.environ.get("FER2013_PATH") or DEFAULT_FER2013)
    if not path.exists():
        sys.exit(f"FER2013 not found at {path}: pass --data or set FER2013_PATH")
    return path


def ferplus_path(argument: str | None = None) -> Path:
    """--ferplus, else FERPLUS_PATH, else ../shared/data/ferplus/fer2013new.csv (may not exist: callers say so)."""
    return Path(argument or os.environ.get("FERPLUS_PATH") or DEFAULT_FERPLUS)


def run_child(code: str) -> dict:
    """Run `code` in a fresh interpreter (so peak RSS is its own); it prints one JSON line last."""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])
