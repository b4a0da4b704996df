"""The Keras callbacks `fit` trains with: validation on arrays, one log line per epoch, the time
budget, a learning rate set from the time spent, the last epoch's weights, and EMA swapping that
survives a resume.

Imported only when training (it imports Keras). Each callback whose state matters for a resumed
run exposes `state()` / `load_state()`, which resume.py snapshots after every epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import keras
import numpy as np

from .arrays import as_batch, one_hot

log = logging.getLogger("facial_emotion.models.training")


class Validation(keras.callbacks.Callback):
    """val_loss and val_accuracy after each epoch, computed batch by batch on arrays.

    Keras' own validation resets its iterator every epoch (an idle wait on tf.data's threads, once
    per epoch); predict_on_batch on numpy slices uses no tf.data iterator. It runs early, so the
    callbacks after it (early stopping, logging, the resume snapshot) see the figures.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int):
        super().__init__()
        self.images, self.labels, self.batch_size = as_batch(images), np.asarray(labels), batch_size
        self.targets = None

    def set_model(self, model):
        super().set_model(model)
        self.targets = one_hot(self.labels, model.output_shape[-1])  # 7 or 8 classes: the model's own

    def on_epoch_end(self, epoch, logs=None):
        probabilities = np.concatenate([np.asarray(self.model.predict_on_batch(self.images[i:i + self.batch_size]))
                                        for i in range(0, len(self.images), self.batch_size)])
        loss = self.model.loss(self.targets, probabilities)
        loss = float(keras.ops.convert_to_numpy(loss)) + sum(
            float(keras.ops.convert_to_numpy(x)) for x in self.model.losses)
        if logs is not None:
            logs["val_loss"] = loss
            logs["val_accuracy"] = float(np.mean(probabilities.argmax(1) == self.targets.argmax(1)))


class Clock(keras.callbacks.Callback):
    """Training time that survives a resume: the seconds spent before it plus this run's.

    The time budget, its cosine and the ETA all read this one clock, so a resumed run keeps the
    budget it started with instead of getting a fresh one.
    """

    def __init__(self, spent_before: float = 0.0):
        super().__init__()
        self.spent_before = float(spent_before)
        self._start = time.perf_counter()

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def seconds(self) -> float:
        return self.spent_before + time.perf_counter() - self._start

    def state(self) -> dict:
        return {"seconds": self.seconds()}

    def load_state(self, state: dict) -> None:
        self.spent_before = float(state["seconds"])


class EpochLogger(keras.callbacks.Callback):
    """One log line per epoch (no carriage-return progress bars) and the same figures in MLflow."""

    def __init__(self, epochs: int, n_images: int, label: str, mlflow_run: bool, clock: Clock,
                 budget_minutes: float | None = None):
        super().__init__()
        self.epochs, self.n_images, self.label, self.mlflow_run, self.clock = epochs, n_images, label, mlflow_run, clock
        self.budget = None if budget_minutes is None else float(budget_minutes) * 60
        self.rows: list[dict[str, float]] = []
        self._said_expected_time = False

    def on_epoch_begin(self, epoch, logs=None):
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._wall
        if not self._said_expected_time:  # this run's first epoch (also after a resume)
            self._said_expected_time = True
            self._expected_time(epoch, seconds)
        cpu = (time.process_time() - self._cpu) / max(seconds, 1e-9)
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
        row.update(epoch=epoch + 1, learning_rate=lr, epoch_seconds=seconds,
                   images_per_second=self.n_images / seconds, cpu_cores_busy=cpu)
        self.rows.append(row)
        eta = seconds * (self.epochs - epoch - 1)
        if self.budget is not None:  # the time budget ends training first when it is shorter
            eta = max(0.0, min(eta, self.budget - self.clock.seconds()))
        log.info("%s epoch %d/%d loss %.4f acc %.4f val_loss %.4f val_acc %.4f lr %.2g | %.1fs %.0f img/s "
                 "%.1f cores | ETA %s (at most)", self.label, epoch + 1, self.epochs, row.get("loss", math.nan),
                 row.get("accuracy", math.nan), row.get("val_loss", math.nan), row.get("val_accuracy", math.nan),
                 lr, seconds, row["images_per_second"], cpu, time.strftime("%H:%M:%S", time.gmtime(eta)))
        if self.mlflow_run:
            import mlflow

            mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch + 1)

    def _expected_time(self, epoch: int, seconds: float) -> None:
        """A recipe's length is in epochs, the same on any CPU; its wall time is this machine's: said
        once, after the first epoch (which also builds the graph, so the guess errs long)."""
        total = seconds * (self.epochs - epoch)
        budget = "" if self.budget is None else f" (the time budget stops it at {self.budget / 60:g} min)"
        log.info("%s: %.0f images/s on this machine: epochs %d-%d should take about %s%s", self.label,
                 self.n_images / seconds, epoch + 1, self.epochs, _duration(total), budget)

    def state(self) -> dict:
        return {"rows": self.rows}

    def load_state(self, state: dict) -> None:
        self.rows = [dict(row) for row in state["rows"]]


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(1, minutes)} min"


class TimeBudget(keras.callbacks.Callback):
    """Stops after the epoch when one more epoch as slow as the slowest so far would end past the budget.

    Keras 3 has no time-limit callback (TF Addons' TimeStopping is gone with TF Addons). A budget
    in minutes is how a "per CPU-hour" recipe is stated; ending a cosine schedule a few epochs early
    costs little, since its last epochs run at a tiny learning rate.
    """

    def __init__(self, minutes: float, clock: Clock):
        super().__init__()
        self.budget, self.clock = float(minutes) * 60, clock
        self.stopped_at: int | None = None
        self.slowest = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.slowest = max(self.slowest, time.perf_counter() - self._epoch_start)
        spent = self.clock.seconds()
        if spent + self.slowest > self.budget:
            self.stopped_at = epoch + 1
            self.model.stop_training = True
            log.info("time budget of %.0f min: stopping after epoch %d (%.1f min spent)", self.budget / 60,
                     epoch + 1, spent / 60)

    def state(self) -> dict:
        return {"slowest": self.slowest, "stopped_at": self.stopped_at}

    def load_state(self, state: dict) -> None:
        self.slowest, self.stopped_at = float(state["slowest"]), state["stopped_at"]


class RateByClock(keras.callbacks.Callback):
    """Sets the learning rate before every batch from the training time spent: `rate_at(seconds)`
    (rates.learning_rate_policy's cosine_time)."""

    def __init__(self, rate_at: Callable[[float], float], clock: Clock):
        super().__init__()
        self.rate_at, self.clock = rate_at, clock

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.rate_at(self.clock.seconds())


class KeepLastWeights(keras.callbacks.Callback):
    """Holds the weights seen at the end of the last epoch and puts them back when training ends.

    With `train.ema_momentum` these are the moving average's weights (SwapEMA has swapped them in by
    then). Keras' own end of fit does not guarantee that: when a callback stops training before
    `epochs`, `finalize_variable_values` copies what the optimizer holds as the average, which after
    the swap is the raw weights.
    """

    def __init__(self):
        super().__init__()
        self.weights = None

    def on_epoch_end(self, epoch, logs=None):
        self.weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


class SwapEMA(keras.callbacks.SwapEMAWeights):
    """Keras' SwapEMAWeights(swap_on_epoch=True), told when a resumed model starts swapped.

    From the end of each epoch to the start of the next the model holds the averaged weights, so
    validation, early stopping, the snapshot and the saved model all see the average. A snapshot
    taken at an epoch's end therefore holds the swapped state; after loading it this callback must
    swap back before the next epoch trains, as it would have without the interruption.
    """

    def __init__(self):
        super().__init__(swap_on_epoch=True)

    def mark_swapped(self) -> None:
        self._ema_weights_in_model = True
