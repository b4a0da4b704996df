"""The CNN training loop: the study's optimiser and callbacks as params, readable per-epoch logs,
per-epoch MLflow metrics, and the best epoch's weights as the result."""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import PipelineError
from ..labels import NUM_CLASSES
from .arrays import as_batch, as_targets, one_hot  # noqa: F401  (the stage and tests import them from here)

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
        warmup = max(1, round(total * fraction))
        return keras.optimizers.schedules.CosineDecay(peak / divisor, decay_steps=max(1, total - warmup),
                                                      alpha=floor / peak, warmup_target=peak, warmup_steps=warmup)
    raise TrainingError(f"unknown learning-rate schedule {schedule!r}")


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
    raise TrainingError(f"unknown optimizer {name!r}")


def weight_decay_exclude(cfg: dict[str, Any], model=None) -> list[str]:
    """`train.weight_decay_exclude`: parts of weight names (Keras' `gamma`, `beta`, `bias`) that AdamW
    leaves undecayed. Decay on a kernel that batch norm follows only rescales it (a higher effective
    learning rate); on the norm's own scale and shift it is a real regulariser. Which to decay is a
    measured choice, not a rule (the README's CPU-recipe runs compare both)."""
    value = cfg.get("weight_decay_exclude") or []
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
    return None if value is None else float(value)


def mixup_alpha(cfg: dict[str, Any]) -> float:
    """`train.mixup`: 0 (off) or the alpha of the Beta(alpha, alpha) that draws each face's mixing weight."""
    return float(cfg.get("mixup", 0.0))


def training_dataset(x_train: np.ndarray, y_train: np.ndarray, batch_size: int, seed: int | None = None,
                     mixup: float = 0.0, first_epoch: int = 0, epochs: int | None = None,
                     num_classes: int | None = None):
    """The training split as one tf.data pipeline for every epoch from `first_epoch` on.

    Each epoch's order is a stateless shuffle keyed on (seed, epoch), and each MixUp draw on
    (seed, step): the batches are a pure function of the epoch, so a run resumed at epoch k sees
    exactly the batches the uninterrupted run saw. One iterator serves every epoch: given arrays
    or a dataset per epoch, Keras makes a new iterator each epoch, and deleting the old one waits on
    tf.data's background threads (on a 2-core CPU the process sat idle for about 10 s at the start
    of two epochs in five). `epochs` None: epochs without end.

    `mixup` > 0 blends each batch's faces and one-hot labels with a shuffled copy of the batch, the
    weight of each face drawn from Beta(alpha, alpha). It lives here, not among the model's
    augmentation layers, because it changes the labels too; so it never touches validation, test or
    the registered model. It is written out rather than Keras' MixUp layer because that layer draws
    from a stateful generator that runs ahead of training in tf.data's prefetch, which a resumed
    run cannot replay. With class weights, Keras weighs a blended face by its larger label.

    `y_train`: int labels (one-hot here) or float [n, k] target distributions (FER+'s votes), used as given.
    """
    import tensorflow as tf

    n, base = len(x_train), int(seed or 0)
    steps = math.ceil(n / batch_size)
    num_classes = num_classes or (y_train.shape[1] if np.ndim(y_train) == 2 else None)
    images = tf.constant(as_batch(x_train))
    labels = tf.constant(as_targets(y_train, num_classes or NUM_CLASSES))

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n),
                                                         seed=tf.stack([tf.constant(base, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    epoch_range = tf.data.Dataset.range(first_epoch, epochs) if epochs is not None else \
        tf.data.Dataset.counter(first_epoch)
    indices = epoch_range.flat_map(epoch_batches)

    def gather(step, idx):
        faces, targets = tf.gather(images, idx), tf.gather(labels, idx)
        if not mixup:
            return faces, targets
        key = tf.stack([tf.constant(base, tf.int64), step])
        size = tf.shape(idx)[0]
        g1 = tf.random.stateless_gamma([size], seed=key, alpha=mixup)
        g2 = tf.random.stateless_gamma([size], seed=key + [0, 1 << 40], alpha=mixup)
        weight = g1 / (g1 + g2)
        partner = tf.random.experimental.stateless_shuffle(tf.range(size), seed=key + [0, 2 << 40])
        faces = tf.cast(faces, tf.float32)
        w_faces = tf.reshape(weight, [-1, 1, 1, 1])
        w_labels = tf.reshape(weight, [-1, 1])
        return (w_faces * faces + (1 - w_faces) * tf.gather(faces, partner),
                w_labels * targets + (1 - w_labels) * tf.gather(targets, partner))

    return (indices.enumerate(start=first_epoch * steps)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


EMA_WARMUP = 10.0  # the average's momentum is min(train.ema_momentum, (1 + step) / (EMA_WARMUP + step))


def warm_up_ema(optimizer) -> None:
    """Give a Keras optimizer with `use_ema` TensorFlow's ExponentialMovingAverage warm-up: after
    step t the momentum is min(train.ema_momentum, (1 + t) / (EMA_WARMUP + t)).

    Keras' optimizer EMA uses its full momentum from the second step on, so with 0.999 the average
    stays near the first steps' weights for thousands of steps: a short run keeps barely-trained
    weights (measured: validation accuracy 0.17 after 5 epochs, every face "sadness"). Warmed up,
    the average follows the weights early and averages over ever more steps as training goes on.
    The optimizer class is unchanged, so a saved model loads anywhere. Keras exposes no hook for the
    momentum: this replaces the one method that applies it, and fails loudly if a Keras upgrade
    renames it."""
    if not optimizer.use_ema:
        return
    import keras

    if not hasattr(optimizer, "_update_model_variables_moving_average"):
        raise TrainingError(f"train.ema_momentum: this Keras {keras.__version__} has no optimizer EMA update to warm "
                            "up; pin the Keras version in requirements.txt")
    ops = keras.ops

    def update(self, trainable_variables):
        step = ops.cast(self.iterations, "float32")
        momentum = ops.minimum(self.ema_momentum, (1.0 + step) / (EMA_WARMUP + step))
        # the first step copies the weights, as Keras' own update does: the average's slots start at zero
        momentum = ops.where(ops.equal(step, 0.0), 0.0, momentum)
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is not None:
                rate = ops.cast(momentum, var.dtype)
                average.assign(ops.add(ops.multiply(rate, average), ops.multiply(ops.subtract(1, rate), var)))

    optimizer._update_model_variables_moving_average = update.__get__(optimizer)


def restore_choice(cfg: dict[str, Any]) -> str:
    """`train.restore`: keep the best epoch's weights by the early-stopping monitor, or the last epoch's."""
    return cfg.get("restore", "best")


@dataclass
class TrainResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_value: float
    seconds: float
    stopped_early: bool
    stopped_by_time_budget: bool = False
    kept_epoch: int | None = None  # the epoch whose weights the model holds (best_epoch under restore: best)
    resumed_from: int = 0  # epochs restored from a snapshot instead of trained by this call


def rate_callbacks(cfg: dict[str, Any], clock) -> list:
    """The callbacks that move the learning rate during training, the other half of `make_schedule`:
    plateau (the study: halve on a stalled monitor) and cosine_time (the cosine over the budget)."""
    import keras

    from .callbacks import TimeCosine

    schedule = cfg.get("lr_schedule", "plateau")
    if schedule == "plateau":
        plateau = cfg["reduce_lr"]
        return [keras.callbacks.ReduceLROnPlateau(
            monitor=plateau["monitor"], mode="min" if "loss" in plateau["monitor"] else "max",
            factor=float(plateau["factor"]), patience=int(plateau["patience"]), min_lr=float(cfg["min_learning_rate"]),
            verbose=0)]
    if schedule == "cosine_time":  # params.yaml's schema makes sure it has a time budget
        return [TimeCosine(float(cfg["learning_rate"]), float(cfg["min_learning_rate"]), cfg["time_budget_minutes"],
                           clock)]
    return []


def _snapshot_class():
    import keras

    from .callbacks import EarlyStoppingState, PlateauState

    class SnapshotEachEpoch(keras.callbacks.Callback):
        """Last in line: after every epoch, once every other callback has updated, the resume snapshot.

        On train begin (after early stopping and the plateau have reset themselves) it puts back
        their state from the snapshot being resumed.
        """

        def __init__(self, state, parts: dict, snapshot=None):
            super().__init__()
            self.state, self.parts, self.snapshot = state, parts, snapshot

        def on_train_begin(self, logs=None):
            if self.snapshot is not None:
                restore_callbacks(self.parts, self.snapshot)

        def on_epoch_end(self, epoch, logs=None):
            early, plateau = self.parts["early"], self.parts.get("plateau")
            early_state, best_weights = EarlyStoppingState.state(early)
            meta = {"clock": self.parts["clock"].state(), "logger": self.parts["logger"].state(),
                    "early": early_state, "plateau": PlateauState.state(plateau) if plateau else None,
                    "budget": self.parts["budget"].state() if self.parts.get("budget") else None}
            finished = bool(self.model.stop_training) or epoch + 1 >= self.params["epochs"]
            self.state.save(self.model, epoch + 1, finished, meta,
                            {"seeds": [np.asarray(v.numpy()) for v in seed_states(self.model)], "best": best_weights})

    return SnapshotEachEpoch


def seed_states(model) -> list:
    """The model's random generators (dropout, augmentation): Keras' save_weights leaves them out."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def restore_callbacks(parts: dict, snapshot) -> None:
    """Put the counters of early stopping and the plateau back as they were after the snapshot's epoch."""
    from .callbacks import EarlyStoppingState, PlateauState

    EarlyStoppingState.load_state(parts["early"], snapshot.meta["early"], snapshot.array_list("best"))
    if parts.get("plateau") is not None and snapshot.meta["plateau"] is not None:
        PlateauState.load_state(parts["plateau"], snapshot.meta["plateau"])


def _restore_model(model, snapshot, swap) -> None:
    """Weights, optimizer (EMA averages included) and random generators as after the snapshot's epoch."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(str(snapshot.folder / "model.weights.h5"))
    for variable, value in zip(seed_states(model), snapshot.array_list("seeds") or []):
        variable.assign(value)
    if swap is not None:
        swap.mark_swapped()  # the snapshot was taken with the average swapped in


def fit(model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, cfg: dict[str, Any],
        class_weight: dict[int, float] | None = None, label: str = "", mlflow_run: bool = False,
        seed: int | None = None, state=None) -> TrainResult:
    """Compile and train; on return the model holds the best epoch's weights (by cfg monitor), or
    the last epoch's under `train.restore: last`.

    Keras 3's EarlyStopping restores the best weights at the end of training whether or not it
    stopped early. With `train.ema_momentum` those are the moving average's weights at that epoch.
    `restore: last` is for a schedule that ends at its floor (cosine, cosine_time, onecycle): picking
    the best of many noisy validation scores rewards luck, and the last weights need no validation
    split to choose them. `seed` orders the shuffles. `state` (a resume.TrainingState) snapshots
    every epoch and, when it holds a snapshot, continues from it: same result as an uninterrupted run.
    """
    import keras

    from .callbacks import Clock, EpochLogger, KeepLastWeights, SwapEMA, TimeBudget, Validation

    restore, mixup = restore_choice(cfg), mixup_alpha(cfg)
    epochs, batch_size = int(cfg["epochs"]), int(cfg["batch_size"])
    steps = math.ceil(len(x_train) / batch_size)
    model.compile(
        optimizer=make_optimizer(cfg, steps, epochs, model),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=float(cfg.get("label_smoothing", 0.0))),
        metrics=["accuracy"],
    )
    warm_up_ema(model.optimizer)
    snapshot = state.snapshot if state is not None else None
    monitor = cfg["early_stopping"]["monitor"]
    mode = "min" if "loss" in monitor else "max"
    clock = Clock(snapshot.meta["clock"]["seconds"] if snapshot else 0.0)
    logger = EpochLogger(epochs, len(x_train), label, mlflow_run, clock, cfg.get("time_budget_minutes"))
    early = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=int(cfg["early_stopping"]["patience"]),
                                          restore_best_weights=restore == "best", verbose=0)
    budget = TimeBudget(cfg["time_budget_minutes"], clock) if cfg.get("time_budget_minutes") is not None else None
    rates = rate_callbacks(cfg, clock)
    swap = SwapEMA() if ema_momentum(cfg) is not None else None
    # Order matters at each epoch's end: the average swapped in, then scored, then logged and judged.
    callbacks: list = [c for c in (swap, Validation(x_val, y_val, batch_size), clock, *rates, logger, early, budget)
                       if c]
    if restore == "last":
        callbacks.append(KeepLastWeights())
    parts = {"clock": clock, "logger": logger, "early": early, "budget": budget,
             "plateau": next((c for c in rates if isinstance(c, keras.callbacks.ReduceLROnPlateau)), None)}
    if state is not None:
        callbacks.append(_snapshot_class()(state, parts, snapshot))
    first = 0
    if snapshot is not None:
        first = snapshot.epoch
        _restore_model(model, snapshot, swap)
        logger.load_state(snapshot.meta["logger"])
        if budget is not None:
            budget.load_state(snapshot.meta["budget"])
    if snapshot is not None and snapshot.finished:
        restore_callbacks(parts, snapshot)  # training had ended; only the kept weights are left to choose
        if restore == "best" and early.best_weights is not None:
            model.set_weights(early.best_weights)
    else:
        model.fit(training_dataset(x_train, y_train, batch_size, seed, mixup, first, epochs, model.output_shape[-1]),
                  epochs=epochs,
                  initial_epoch=first, steps_per_epoch=steps, class_weight=class_weight, callbacks=callbacks,
                  shuffle=False, verbose=0)
    values = [row[monitor] for row in logger.rows]
    best = int(np.argmin(values) if mode == "min" else np.argmax(values))
    by_budget = budget is not None and budget.stopped_at is not None
    kept = best + 1 if restore == "best" else len(logger.rows)
    return TrainResult(logger.rows, best + 1, float(values[best]), clock.seconds(),
                       early.stopped_epoch > 0 and not by_budget, by_budget, kept, first)


def threads_note() -> str:
    """How many threads TensorFlow may use: a run stuck on one core shows here and in cpu_cores_busy."""
    import tensorflow as tf

    return (f"intra_op={tf.config.threading.get_intra_op_parallelism_threads()} "
            f"inter_op={tf.config.threading.get_inter_op_parallelism_threads()} cpus={os.cpu_count()}")
