"""The CNN training loop: the study's optimiser and callbacks as params, readable per-epoch logs,
per-epoch MLflow metrics, and the best epoch's weights as the result."""

from __future__ import annotations

import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PipelineError
from ..labels import NUM_CLASSES

log = logging.getLogger(__name__)


class TrainingError(PipelineError, ValueError):
    """Training params that can't work together."""


def set_seeds(seed: int, deterministic: bool) -> None:
    """One seed for Python, numpy and TensorFlow; optional op determinism (slower, reproducible on CPU)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_schedule(cfg: dict[str, Any], steps_per_epoch: int, epochs: int):
    """The learning rate: a float (plateau, constant, cosine_time) or a Keras schedule (cosine, onecycle).

    onecycle is Keras' CosineDecay with its linear warm-up: from learning_rate / div_factor up to
    learning_rate over warmup_fraction of the steps, then a cosine down to min_learning_rate.
    """
    import keras

    peak, floor = float(cfg["learning_rate"]), float(cfg["min_learning_rate"])
    total = max(1, steps_per_epoch * epochs)
    schedule = cfg.get("lr_schedule", "plateau")
    if schedule in ("plateau", "constant", "cosine_time"):
        return peak  # cosine_time: a callback sets the rate before each batch from the time spent
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=total, alpha=floor / peak)
    if schedule == "onecycle":
        cycle = cfg["onecycle"]
        fraction, divisor = float(cycle["warmup_fraction"]), float(cycle["div_factor"])
        if not 0 < fraction < 1 or divisor < 1:
            raise TrainingError("params.yaml train.onecycle: warmup_fraction must be in (0, 1) and div_factor >= 1, "
                                f"not {fraction} and {divisor}")
        warmup = max(1, round(total * fraction))
        return keras.optimizers.schedules.CosineDecay(peak / divisor, decay_steps=max(1, total - warmup),
                                                      alpha=floor / peak, warmup_target=peak, warmup_steps=warmup)
    raise TrainingError("params.yaml train.lr_schedule: must be plateau, cosine, cosine_time, onecycle or constant, "
                        f"not {schedule!r}")


def make_optimizer(cfg: dict[str, Any], steps_per_epoch: int, epochs: int, model=None):
    """Adam (the study), AdamW or SGD with Nesterov momentum, on the schedule `train.lr_schedule` names.

    With `model`, every `train.weight_decay_exclude` name must match one of its trainable weights,
    so a misspelt name is an error instead of a run that silently decays everything.
    """
    import keras

    lr = make_schedule(cfg, steps_per_epoch, epochs)
    name = cfg.get("optimizer", "adam")
    ema = ema_momentum(cfg)
    common = {"learning_rate": lr, "use_ema": ema is not None, "ema_momentum": ema or 0.99}
    decay_only_for_adamw(cfg, name)
    if name == "adam":
        return keras.optimizers.Adam(**common)
    if name == "adamw":
        optimizer = keras.optimizers.AdamW(weight_decay=float(cfg.get("weight_decay", 0.0)), **common)
        excluded = weight_decay_exclude(cfg, model)
        if excluded:
            optimizer.exclude_from_weight_decay(var_names=[re.escape(part) for part in excluded])
        return optimizer
    if name == "sgd":
        return keras.optimizers.SGD(momentum=float(cfg.get("momentum", 0.9)), nesterov=True, **common)
    raise TrainingError(f"params.yaml train.optimizer: must be adam, adamw or sgd, not {name!r}")


def decay_only_for_adamw(cfg: dict[str, Any], optimizer: str) -> None:
    """Decoupled weight decay is AdamW's: with Adam or SGD a `train.weight_decay` would be silently
    ignored, so a sweep over it would compare identical runs."""
    if optimizer == "adamw":
        return
    decay, excluded = cfg.get("weight_decay") or 0.0, cfg.get("weight_decay_exclude") or []
    if decay or excluded:
        key = "weight_decay" if decay else "weight_decay_exclude"
        raise TrainingError(f"params.yaml train.{key}: only train.optimizer adamw decays weights, and the optimizer "
                            f"is {optimizer!r}; set train.optimizer=adamw, or {key} back to its default "
                            "(cnn.l2 adds an L2 penalty for any optimizer)")


def weight_decay_exclude(cfg: dict[str, Any], model=None) -> list[str]:
    """`train.weight_decay_exclude`: parts of weight names (Keras' `gamma`, `beta`, `bias`) that AdamW
    leaves undecayed. Decay on a kernel that batch norm follows only rescales it (a higher effective
    learning rate); on the norm's own scale and shift it is a real regulariser. Which to decay is a
    measured choice, not a rule (the README's CPU-recipe runs compare both)."""
    value = cfg.get("weight_decay_exclude") or []
    if not isinstance(value, list) or not all(isinstance(part, str) and part for part in value):
        raise TrainingError("params.yaml train.weight_decay_exclude: must be a list of weight-name parts, "
                            f"e.g. [gamma, beta, bias], not {value!r}")
    if model is not None:
        names = [weight.name for weight in model.trainable_weights]
        for part in value:
            if not any(part in name for name in names):
                raise TrainingError(f"params.yaml train.weight_decay_exclude: {part!r} names no trainable weight "
                                    f"of this model (its weights are named {', '.join(sorted(set(names)))})")
    return list(value)


def ema_momentum(cfg: dict[str, Any]) -> float | None:
    """`train.ema_momentum`: None (off) or the decay of an exponential moving average of the weights."""
    value = cfg.get("ema_momentum")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise TrainingError(f"params.yaml train.ema_momentum: must be null or a number in (0, 1), not {value!r}")
    return float(value)


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]


def as_batch(images: np.ndarray) -> np.ndarray:
    """uint8 [n, 48, 48] -> [n, 48, 48, 1], the shape every model takes."""
    return images[..., None] if images.ndim == 3 else images


def mixup_alpha(cfg: dict[str, Any]) -> float:
    """`train.mixup`: 0 (off) or the alpha of the Beta(alpha, alpha) that draws each face's mixing weight."""
    value = cfg.get("mixup", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
        raise TrainingError(f"params.yaml train.mixup: must be 0 (off) or a Beta alpha in (0, 10], not {value!r}")
    return float(value)


def training_dataset(x_train: np.ndarray, y_train: np.ndarray, batch_size: int, seed: int | None = None,
                     mixup: float = 0.0):
    """The training split as a tf.data pipeline that repeats, so one iterator serves every epoch.

    Given arrays or a finite dataset, Keras makes a new iterator each epoch, and deleting the old
    one waits on tf.data's background threads: on a 2-core CPU the process sat idle for about
    10 s at the start of two epochs in five. It reshuffles on every pass (same seed, same order).
    `mixup` > 0 blends each batch's faces and their one-hot labels with a shuffled copy of the
    batch (Keras' MixUp layer). It lives here, not among the model's augmentation layers, because
    it changes the labels too; so it never touches validation, test or the registered model.
    With class weights, Keras weighs a blended face by its larger label (the argmax).
    """
    import keras
    import tensorflow as tf

    batches = (tf.data.Dataset.from_tensor_slices((as_batch(x_train), one_hot(y_train)))
               .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size))
    if mixup:
        mix = keras.layers.MixUp(alpha=mixup, seed=seed)

        def mixed(images, labels):
            blend = mix({"images": images, "labels": labels})
            return blend["images"], blend["labels"]

        batches = batches.map(mixed, num_parallel_calls=tf.data.AUTOTUNE)
    return batches.repeat().prefetch(tf.data.AUTOTUNE)


def _validation_class():
    import keras

    class Validation(keras.callbacks.Callback):
        """val_loss and val_accuracy after each epoch, computed batch by batch on arrays.

        Keras' own validation resets its iterator every epoch (the idle wait above, once per
        epoch); predict_on_batch on numpy slices uses no tf.data iterator. It runs first, so the
        callbacks after it (early stopping, checkpoint, logging) see the figures.
        """

        def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int):
            super().__init__()
            self.images, self.targets, self.batch_size = as_batch(images), one_hot(labels), batch_size

        def on_epoch_end(self, epoch, logs=None):
            probabilities = np.concatenate([np.asarray(self.model.predict_on_batch(self.images[i:i + self.batch_size]))
                                            for i in range(0, len(self.images), self.batch_size)])
            loss = self.model.loss(self.targets, probabilities)
            loss = float(keras.ops.convert_to_numpy(loss)) + sum(float(keras.ops.convert_to_numpy(x)) for x in self.model.losses)
            if logs is not None:
                logs["val_loss"] = loss
                logs["val_accuracy"] = float(np.mean(probabilities.argmax(1) == self.targets.argmax(1)))

    return Validation


def _epoch_logger_class():
    import keras

    class EpochLogger(keras.callbacks.Callback):
        """One log line per epoch (no carriage-return progress bars) and the same figures in MLflow."""

        def __init__(self, epochs: int, n_images: int, label: str, mlflow_run: bool, budget_minutes: float | None = None):
            super().__init__()
            self.epochs, self.n_images, self.label, self.mlflow_run = epochs, n_images, label, mlflow_run
            self.budget = None if budget_minutes is None else float(budget_minutes) * 60
            self.rows: list[dict[str, float]] = []

        def on_train_begin(self, logs=None):
            self._train_start = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self._wall, self._cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self._wall
            cpu = (time.process_time() - self._cpu) / max(seconds, 1e-9)
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
            row.update(epoch=epoch + 1, learning_rate=lr, epoch_seconds=seconds,
                       images_per_second=self.n_images / seconds, cpu_cores_busy=cpu)
            self.rows.append(row)
            eta = seconds * (self.epochs - epoch - 1)
            if self.budget is not None:  # the time budget ends training first when it is shorter
                eta = max(0.0, min(eta, self.budget - (time.perf_counter() - self._train_start)))
            log.info("%s epoch %d/%d loss %.4f acc %.4f val_loss %.4f val_acc %.4f lr %.2g | %.1fs %.0f img/s "
                     "%.1f cores | ETA %s (at most)", self.label, epoch + 1, self.epochs, row.get("loss", math.nan),
                     row.get("accuracy", math.nan), row.get("val_loss", math.nan), row.get("val_accuracy", math.nan),
                     lr, seconds, row["images_per_second"], cpu, time.strftime("%H:%M:%S", time.gmtime(eta)))
            if self.mlflow_run:
                import mlflow

                mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch + 1)

    return EpochLogger


def _time_budget_class():
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Stops after the epoch when one more epoch as slow as the slowest so far would end past the budget.

        Keras 3 has no time-limit callback (TF Addons' TimeStopping is gone with TF Addons). A budget
        in minutes is how a "per CPU-hour" recipe is stated; ending a cosine schedule a few epochs early
        costs little, since its last epochs run at a tiny learning rate.
        """

        def __init__(self, minutes: float):
            super().__init__()
            self.budget = float(minutes) * 60
            self.stopped_at: int | None = None

        def on_train_begin(self, logs=None):
            self._start, self._slowest = time.perf_counter(), 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            self._slowest = max(self._slowest, now - self._epoch_start)
            if now - self._start + self._slowest > self.budget:
                self.stopped_at = epoch + 1
                self.model.stop_training = True
                log.info("time budget of %.0f min: stopping after epoch %d (%.1f min spent)", self.budget / 60,
                         epoch + 1, (now - self._start) / 60)

    return TimeBudget


def cosine_rate(progress: float, peak: float, floor: float) -> float:
    """Half a cosine from peak (progress 0) to floor (progress 1 and after)."""
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def _time_cosine_class():
    import keras

    class TimeCosine(keras.callbacks.Callback):
        """Cosine from the learning rate down to the floor over the time budget, not over a step count.

        On this project's shared 2-core CPU epochs of the same network vary (29-37 s in one run), so a
        step-based cosine sized for a budget either ends early or is cut off half-way down. Keyed on the time
        spent, the rate reaches its floor when the budget does, and TimeBudget ends training at the
        last whole epoch that fits.
        """

        def __init__(self, peak: float, floor: float, minutes: float):
            super().__init__()
            self.peak, self.floor, self.budget = peak, floor, float(minutes) * 60

        def on_train_begin(self, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            progress = (time.perf_counter() - self._start) / self.budget
            self.model.optimizer.learning_rate = cosine_rate(progress, self.peak, self.floor)

    return TimeCosine


RESTORE_CHOICES = ("best", "last")


def restore_choice(cfg: dict[str, Any]) -> str:
    """`train.restore`: keep the best epoch's weights by the early-stopping monitor, or the last epoch's."""
    value = cfg.get("restore", "best")
    if value not in RESTORE_CHOICES:
        raise TrainingError(f"params.yaml train.restore: must be best or last, not {value!r}")
    return value


def _keep_last_class():
    import keras

    class KeepLastWeights(keras.callbacks.Callback):
        """Holds the weights seen at the end of the last epoch and puts them back when training ends.

        With `train.ema_momentum` these are the moving average's weights (SwapEMAWeights has swapped
        them in by then). Keras' own end of fit does not guarantee that: when a callback stops training
        before `epochs`, `finalize_variable_values` copies what the optimizer holds as the average,
        which after the swap is the raw weights.
        """

        def __init__(self):
            super().__init__()
            self.weights = None

        def on_epoch_end(self, epoch, logs=None):
            self.weights = self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return KeepLastWeights


@dataclass
class TrainResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_value: float
    seconds: float
    stopped_early: bool
    stopped_by_time_budget: bool = False
    kept_epoch: int | None = None  # the epoch whose weights the model holds (best_epoch under restore: best)


def fit(model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, cfg: dict[str, Any],
        class_weight: dict[int, float] | None = None, checkpoint: str | Path | None = None, label: str = "",
        mlflow_run: bool = False, seed: int | None = None) -> TrainResult:
    """Compile and train; on return the model holds the best epoch's weights (by cfg monitor), or
    the last epoch's under `train.restore: last`.

    Keras 3's EarlyStopping restores the best weights at the end of training whether or not it
    stopped early, and the checkpoint file holds the same epoch. With `train.ema_momentum` those are
    the moving average's weights at that epoch. `restore: last` is for a schedule that ends at its
    floor (cosine, cosine_time, onecycle): picking the best of many noisy validation scores rewards
    luck, and the last weights need no validation split to choose them. `seed` orders the shuffles
    (None: TensorFlow's global seed, which set_seeds sets).
    """
    import keras

    restore, mixup = restore_choice(cfg), mixup_alpha(cfg)

    epochs, batch_size = int(cfg["epochs"]), int(cfg["batch_size"])
    steps = math.ceil(len(x_train) / batch_size)
    model.compile(
        optimizer=make_optimizer(cfg, steps, epochs, model),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=float(cfg.get("label_smoothing", 0.0))),
        metrics=["accuracy"],
    )
    monitor = cfg["early_stopping"]["monitor"]
    mode = "min" if "loss" in monitor else "max"
    logger = _epoch_logger_class()(epochs, len(x_train), label, mlflow_run, cfg.get("time_budget_minutes"))
    early = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=int(cfg["early_stopping"]["patience"]),
                                          restore_best_weights=restore == "best", verbose=0)
    callbacks: list = [logger, early]
    if cfg.get("lr_schedule", "plateau") == "plateau":
        plateau = cfg["reduce_lr"]
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=plateau["monitor"], mode="min" if "loss" in plateau["monitor"] else "max",
            factor=float(plateau["factor"]), patience=int(plateau["patience"]), min_lr=float(plateau["min_lr"]), verbose=0))
    budget = None
    if cfg.get("time_budget_minutes") is not None:
        if float(cfg["time_budget_minutes"]) <= 0:
            raise TrainingError("params.yaml train.time_budget_minutes: must be positive or null, "
                                f"not {cfg['time_budget_minutes']}")
        budget = _time_budget_class()(cfg["time_budget_minutes"])
        callbacks.append(budget)
        if cfg.get("lr_schedule") == "cosine_time":
            callbacks.insert(0, _time_cosine_class()(float(cfg["learning_rate"]), float(cfg["min_learning_rate"]),
                                                     cfg["time_budget_minutes"]))
    elif cfg.get("lr_schedule") == "cosine_time":
        raise TrainingError("params.yaml train.lr_schedule: cosine_time needs train.time_budget_minutes")
    if checkpoint:
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint), monitor=monitor, mode=mode,
                                                         save_best_only=restore == "best", verbose=0))
    if restore == "last":
        callbacks.append(_keep_last_class()())
    started = time.perf_counter()
    callbacks.insert(0, _validation_class()(x_val, y_val, batch_size))
    if ema_momentum(cfg) is not None:
        # Keras' own swap, first in line: from the end of each epoch to the start of the next the
        # model holds the averaged weights, so validation, early stopping's best weights and the
        # checkpoint all see (and keep) the average; training steps use the raw weights.
        callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    model.fit(training_dataset(x_train, y_train, batch_size, seed, mixup), epochs=epochs, steps_per_epoch=steps,
              class_weight=class_weight, callbacks=callbacks, shuffle=False, verbose=0)
    seconds = time.perf_counter() - started
    values = [row[monitor] for row in logger.rows]
    best = int(np.argmin(values) if mode == "min" else np.argmax(values))
    by_budget = budget is not None and budget.stopped_at is not None
    kept = best + 1 if restore == "best" else len(logger.rows)
    return TrainResult(logger.rows, best + 1, float(values[best]), seconds, early.stopped_epoch > 0 and not by_budget,
                       by_budget, kept)


def threads_note() -> str:
    """How many threads TensorFlow may use: a run stuck on one core shows here and in cpu_cores_busy."""
    import tensorflow as tf

    return (f"intra_op={tf.config.threading.get_intra_op_parallelism_threads()} "
            f"inter_op={tf.config.threading.get_inter_op_parallelism_threads()} cpus={os.cpu_count()}")
