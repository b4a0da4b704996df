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

`fit` calls two functions: `continue_from_snapshot` before training, and `snapshot_each_epoch` for
the callback that writes the snapshots. Keras is imported only inside them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..paths import DVC_YAML, STATE_DIR

if TYPE_CHECKING:
    from ..params.training import TrainSection

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
    return next((p for p in (here, *here.parents) if (p / DVC_YAML).exists()), here) / STATE_DIR


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


def fingerprint(cfg: TrainSection, model, arrays: list[np.ndarray], class_weight: dict | None,
                seed: int | None) -> dict[str, str]:
    """The four things a snapshot must match, hashed apart so a mismatch can say which one changed."""
    data = [np.ascontiguousarray(a).tobytes() for a in arrays]
    weights = json.dumps({str(k): float(v) for k, v in (class_weight or {}).items()}, sort_keys=True).encode()
    train = cfg.model_dump(mode="json")
    return {
        "params": _sha256(json.dumps({"train": train, "seed": seed}, sort_keys=True, default=str).encode()),
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


@dataclass
class Resumable:
    """The parts of a training run whose state a snapshot keeps beside the model's weights. `fit`
    makes them (callbacks.py, and Keras' EarlyStopping and ReduceLROnPlateau); None: not in this run."""

    clock: Any
    logger: Any
    early: Any
    plateau: Any = None
    budget: Any = None
    swap: Any = None


def continue_from_snapshot(state: TrainingState | None, model, parts: Resumable) -> tuple[int, bool]:
    """Put the compiled model and `parts` back as they were after the snapshot's epoch: (the epochs
    already trained, whether training had ended). (0, False) without a snapshot.

    When training had ended (killed before the model was saved) there is nothing left to train:
    the callbacks' state comes back now and, under `train.restore: best`, the best epoch's weights
    with it. Otherwise the callbacks' state comes back when training begins (snapshot_each_epoch),
    after early stopping and the plateau have reset themselves.
    """
    snapshot = state.snapshot if state is not None else None
    if snapshot is None:
        return 0, False
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(str(snapshot.folder / WEIGHTS))  # the optimizer too, EMA averages included
    for variable, value in zip(_seed_states(model), snapshot.array_list("seeds") or []):
        variable.assign(value)
    if parts.swap is not None:
        parts.swap.mark_swapped()  # the snapshot was taken with the average swapped in
    parts.clock.load_state(snapshot.meta["clock"])
    parts.logger.load_state(snapshot.meta["logger"])
    if parts.budget is not None:
        parts.budget.load_state(snapshot.meta["budget"])
    if snapshot.finished:
        _restore_callbacks(parts, snapshot)
        if parts.early.restore_best_weights and parts.early.best_weights is not None:
            model.set_weights(parts.early.best_weights)
    return snapshot.epoch, snapshot.finished


def snapshot_each_epoch(state: TrainingState, parts: Resumable, model, epochs: int):
    """The callback that goes last in line: after every epoch, once every other callback has updated,
    it writes the snapshot; on train begin it puts back the callbacks' state of the snapshot being
    resumed."""
    import keras

    def begin(logs=None):
        if state.snapshot is not None:
            _restore_callbacks(parts, state.snapshot)

    def save(epoch, logs=None):
        meta = {"clock": parts.clock.state(), "logger": parts.logger.state(),
                "early": _counters(parts.early, EARLY_COUNTERS),
                "plateau": _counters(parts.plateau, PLATEAU_COUNTERS) if parts.plateau is not None else None,
                "budget": parts.budget.state() if parts.budget is not None else None}
        finished = bool(model.stop_training) or epoch + 1 >= epochs
        state.save(model, epoch + 1, finished, meta,
                   {"seeds": [np.asarray(v.numpy()) for v in _seed_states(model)], "best": parts.early.best_weights})

    return keras.callbacks.LambdaCallback(on_train_begin=begin, on_epoch_end=save)


def _seed_states(model) -> list:
    """The model's random generators (dropout, augmentation): Keras' save_weights leaves them out."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def _restore_callbacks(parts: Resumable, snapshot: Snapshot) -> None:
    """Put the counters of early stopping and the plateau back as they were after the snapshot's epoch."""
    _set_counters(parts.early, snapshot.meta["early"])
    parts.early.best_weights = snapshot.array_list("best")
    if parts.plateau is not None and snapshot.meta["plateau"] is not None:
        _set_counters(parts.plateau, snapshot.meta["plateau"])


# The counters Keras' EarlyStopping and ReduceLROnPlateau keep (they have no state API); the best
# weights are kept as arrays, the plateau's rate is an optimizer variable in the weights file.
EARLY_COUNTERS = ("wait", "stopped_epoch", "best", "best_epoch")
PLATEAU_COUNTERS = ("wait", "best", "cooldown_counter")


def _counters(callback, names: tuple[str, ...]) -> dict:
    return {name: _plain(getattr(callback, name)) for name in names}


def _set_counters(callback, counters: dict) -> None:
    for name, value in counters.items():
        setattr(callback, name, value)


def _plain(value):
    """A JSON-safe number (Keras keeps some counters as numpy scalars, `best` may be inf)."""
    if value is None:
        return None
    return float(value) if isinstance(value, (float, np.floating)) else int(value)
