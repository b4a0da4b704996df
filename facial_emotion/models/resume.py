"""Resumable training: after every epoch, a snapshot of everything the next epoch depends on, kept
outside the stage's DVC outputs (DVC deletes those before it reruns a stage).

Why not Keras' BackupAndRestore alone: it restores the weights, the optimizer and the epoch, but
not the random generators' states (dropout, augmentation), the callbacks' state (early stopping's
best weights and patience, the plateau's counters, the time already spent) or the history; and it
writes its weights and its epoch counter as two files, so a kill between them pairs one epoch's
weights with the previous epoch's number. Here the weights are still Keras' own `save_weights`
(model and optimizer, EMA averages included); the rest sits beside them, and each snapshot is a
folder made whole under a temporary name and published by renaming a pointer file.

A snapshot belongs to one fingerprint: the training params, the network, the data and the training
code. A run with another fingerprint starts fresh and says which of the four changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

STATE_ENV = "FACIAL_EMOTION_STATE_DIR"
LATEST = "LATEST"
WEIGHTS = "model.weights.h5"
ARRAYS = "arrays.npz"
META = "state.json"


def state_root() -> Path:
    """Where snapshots live: $FACIAL_EMOTION_STATE_DIR, else `.state/` at the root of the work tree
    the stage runs in (git- and DVC-ignored). Not DVC_ROOT: a queued experiment runs in a temporary
    copy, and parallel queue workers must not share one snapshot folder per model."""
    env = os.environ.get(STATE_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    return next((p for p in (here, *here.parents) if (p / "dvc.yaml").exists()), here) / ".state"


def _sha256(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def code_sha256() -> str:
    """The training code: every module of this package's `models` folder and the training sets' loader."""
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py")) + [here.parent / "data" / "training_sets.py"]
    return _sha256(*(f.name.encode() + f.read_bytes() for f in files))


def fingerprint(cfg: dict[str, Any], model, arrays: list[np.ndarray], class_weight: dict | None,
                seed: int | None) -> dict[str, str]:
    """The four things a snapshot must match, hashed apart so a mismatch can say which one changed."""
    data = [np.ascontiguousarray(a).tobytes() for a in arrays]
    weights = json.dumps({str(k): float(v) for k, v in (class_weight or {}).items()}, sort_keys=True).encode()
    return {
        "params": _sha256(json.dumps({"train": cfg, "seed": seed}, sort_keys=True, default=str).encode()),
        "network": _sha256(model.to_json().encode()),
        "data": _sha256(*data, weights),
        "code": code_sha256(),
    }


@dataclass
class Snapshot:
    """One epoch's saved state, as read back."""

    folder: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def epoch(self) -> int:
        return int(self.meta["epoch"])

    @property
    def finished(self) -> bool:
        return bool(self.meta["finished"])

    def array_list(self, prefix: str) -> list[np.ndarray] | None:
        count = self.meta["arrays"].get(prefix)
        return None if count is None else [self.arrays[f"{prefix}_{i}"] for i in range(count)]


class TrainingState:
    """The snapshots of one model's training (`<state root>/train/<name>/`)."""

    def __init__(self, folder: Path, prints: dict[str, str]):
        self.folder, self.prints = Path(folder), prints
        self.run_id: str | None = None  # the MLflow run to continue; the stage sets it
        self.snapshot: Snapshot | None = None

    @classmethod
    def open(cls, name: str, prints: dict[str, str], root: Path | None = None) -> TrainingState:
        """The state for `name`; loads its last snapshot when the fingerprint matches, else clears it and says why."""
        state = cls((root or state_root()) / "train" / name, prints)
        state.snapshot = state._load(name)
        if state.snapshot is not None:
            state.run_id = state.snapshot.meta.get("run_id")
        return state

    def _load(self, name: str) -> Snapshot | None:
        pointer = self.folder / LATEST
        if not pointer.exists():
            return None
        folder = self.folder / pointer.read_text().strip()
        try:
            meta = json.loads((folder / META).read_text())
            arrays = dict(np.load(folder / ARRAYS))
        except (OSError, ValueError) as exc:
            log.warning("%s: the snapshot in %s is unreadable (%s): starting fresh", name, folder, exc)
            self.clear()
            return None
        changed = [part for part in ("params", "network", "data", "code")
                   if meta["fingerprint"].get(part) != self.prints[part]]
        if changed:
            log.warning("%s: an interrupted run was saved at epoch %d in %s, but its %s changed since: starting fresh",
                        name, meta["epoch"], folder, " and ".join(changed))
            self.clear()
            return None
        log.info("%s: resuming from the snapshot after epoch %d in %s (%.1f min of training already spent)",
                 name, meta["epoch"], folder, meta["clock"]["seconds"] / 60)
        return Snapshot(folder, meta, arrays)

    def save(self, model, epoch: int, finished: bool, meta: dict[str, Any],
             arrays: dict[str, list[np.ndarray]]) -> None:
        """Write the snapshot after `epoch` (1-based count of finished epochs) whole, then publish it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch:04d}"
        tmp = self.folder / f".{name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model.save_weights(str(tmp / WEIGHTS))
        flat = {f"{prefix}_{i}": np.asarray(a) for prefix, items in arrays.items() for i, a in enumerate(items or [])}
        with open(tmp / ARRAYS, "wb") as fh:
            np.savez(fh, **flat)
        counts = {prefix: len(items) for prefix, items in arrays.items() if items is not None}
        full = {**meta, "epoch": epoch, "finished": finished, "fingerprint": self.prints, "run_id": self.run_id,
                "arrays": counts}
        (tmp / META).write_text(json.dumps(full))
        final = self.folder / name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        pointer_tmp = self.folder / f".{LATEST}.tmp-{os.getpid()}"
        pointer_tmp.write_text(name)
        os.replace(pointer_tmp, self.folder / LATEST)
        for old in self.folder.glob("epoch-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)

    def clear(self) -> None:
        """Forget every snapshot: after the model is saved, or when its fingerprint no longer matches."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.snapshot = None
