"""The CNN training loop: the study's optimiser and callbacks as params, readable per-epoch logs,
per-epoch MLflow metrics, and the best epoch's weights as the result."""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import PipelineError
from ..labels import NUM_CLASSES
from .arrays import as_batch, as_targets, one_hot  # noqa: F401  (the stage and tests import them from here)
from .rates import learning_rate_policy
from .resume import Resumable, continue_from_snapshot, snapshot_each_epoch

if TYPE_CHECKING:
    from ..params.training import TrainSection
    from .resume import TrainingState

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


def make_optimizer(cfg: TrainSection, learning_rate: Any, model=None):
    """Adam (the study), AdamW or SGD with Nesterov momentum, starting at `learning_rate` (a float or a
    Keras schedule: rates.learning_rate_policy's first half).

    With `model`, every `train.weight_decay_exclude` name must match one of its trainable weights,
    so a misspelt name is an error instead of a run that silently decays everything.
    """
    import keras

    ema = cfg.ema_momentum  # None (off) or the decay of an exponential moving average of the weights
    common = {"learning_rate": learning_rate, "use_ema": ema is not None, "ema_momentum": ema or 0.99}
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(**common)
    if cfg.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(weight_decay=cfg.weight_decay, **common)
        if cfg.weight_decay_exclude:
            if model is not None:
                _check_weight_names(cfg.weight_decay_exclude, model)
            optimizer.exclude_from_weight_decay(var_names=[re.escape(part) for part in cfg.weight_decay_exclude])
        return optimizer
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=cfg.momentum, nesterov=True, **common)
    raise TrainingError(f"unknown optimizer {cfg.optimizer!r}")


def _check_weight_names(parts: list[str], model) -> None:
    """`train.weight_decay_exclude`: parts of weight names (Keras' `gamma`, `beta`, `bias`) that AdamW
    leaves undecayed, each of which must name a weight of `model`. Decay on a kernel that batch norm
    follows only rescales it (a higher effective learning rate); on the norm's own scale and shift it
    is a real regulariser. Which to decay is a measured choice, not a rule (the README's CPU-recipe
    runs compare both)."""
    names = [weight.name for weight in model.trainable_weights]
    for part in parts:
        if not any(part in name for name in names):
            raise TrainingError(f"params.yaml train.weight_decay_exclude: {part!r} names no trainable weight "
                                f"of this model (its weights are named {', '.join(sorted(set(names)))})")


def training_dataset(x_train: np.ndarray, y_train: np.ndarray, batch_size: int, seed: int | None = None,
                     mixup: float = 0.0, first_epoch: int = 0, epochs: int | None = None,
                     num_classes: int | None = None, outliers: float = 0.0):
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

    `outliers` > 0 appends to each batch round(outliers * batch_size) (at least one) non-faces,
    drawn per step like MixUp: pixel noise, smooth noise and flat frames in turn, each with the
    uniform distribution as its target (outlier exposure, Hendrycks et al., ICLR 2019). Without
    them a network meets such inputs only at inference time and may call them an emotion with
    confidence; with them it learns to say "no idea", which the demo shows as uncertain.

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

    extra = max(1, round(outliers * batch_size)) if outliers else 0

    def gather(step, idx):
        faces, targets = blend(step, tf.gather(images, idx), tf.gather(labels, idx))
        return with_outliers(step, faces, targets) if extra else (faces, targets)

    def blend(step, faces, targets):
        if not mixup:
            return faces, targets
        key = tf.stack([tf.constant(base, tf.int64), step])
        size = tf.shape(faces)[0]
        g1 = tf.random.stateless_gamma([size], seed=key, alpha=mixup)
        g2 = tf.random.stateless_gamma([size], seed=key + [0, 1 << 40], alpha=mixup)
        weight = g1 / (g1 + g2)
        partner = tf.random.experimental.stateless_shuffle(tf.range(size), seed=key + [0, 2 << 40])
        faces = tf.cast(faces, tf.float32)
        w_faces = tf.reshape(weight, [-1, 1, 1, 1])
        w_labels = tf.reshape(weight, [-1, 1])
        return (w_faces * faces + (1 - w_faces) * tf.gather(faces, partner),
                w_labels * targets + (1 - w_labels) * tf.gather(targets, partner))

    def with_outliers(step, faces, targets):
        key = tf.stack([tf.constant(base, tf.int64), step]) + [0, 3 << 40]
        height, width = images.shape[1], images.shape[2]
        kinds = [extra - 2 * (extra // 3), extra // 3, extra // 3]  # pixel noise, smooth noise, flat frames
        noise = tf.floor(tf.random.stateless_uniform([kinds[0], height, width, 1], seed=key, maxval=256.0))
        coarse = tf.random.stateless_uniform([kinds[1], 6, 6, 1], seed=key + [0, 1], maxval=256.0)
        smooth = tf.image.resize(coarse, [height, width], method="bilinear")
        flat = tf.random.stateless_uniform([kinds[2], 1, 1, 1], seed=key + [0, 2], maxval=256.0) \
            * tf.ones([1, height, width, 1])
        faces = tf.concat([tf.cast(faces, tf.float32), noise, smooth, tf.floor(flat)], axis=0)
        classes = labels.shape[1]
        return faces, tf.concat([targets, tf.fill([extra, classes], 1.0 / classes)], axis=0)

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


def fit(model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, cfg: TrainSection,
        class_weight: dict[int, float] | None = None, label: str = "", mlflow_run: bool = False,
        seed: int | None = None, state: TrainingState | None = None) -> TrainResult:
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

    epochs, batch_size = cfg.epochs, cfg.batch_size
    steps = math.ceil(len(x_train) / batch_size)
    clock = Clock()
    learning_rate, rates = learning_rate_policy(cfg, steps, epochs, clock)
    model.compile(
        optimizer=make_optimizer(cfg, learning_rate, model),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
    )
    warm_up_ema(model.optimizer)
    monitor, mode = cfg.early_stopping.monitor, cfg.early_stopping.mode
    logger = EpochLogger(epochs, len(x_train), label, mlflow_run, clock, cfg.time_budget_minutes)
    early = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=cfg.early_stopping.patience,
                                          restore_best_weights=cfg.restore == "best", verbose=0)
    budget = TimeBudget(cfg.time_budget_minutes, clock) if cfg.time_budget_minutes is not None else None
    swap = SwapEMA() if cfg.ema_momentum is not None else None
    # Order matters at each epoch's end: the average swapped in, then scored, then logged and judged.
    callbacks: list = [c for c in (swap, Validation(x_val, y_val, batch_size), clock, *rates, logger, early, budget)
                       if c]
    if cfg.restore == "last":
        callbacks.append(KeepLastWeights())
    parts = Resumable(clock, logger, early, budget=budget, swap=swap,
                      plateau=next((c for c in rates if isinstance(c, keras.callbacks.ReduceLROnPlateau)), None))
    first, finished = continue_from_snapshot(state, model, parts)
    if state is not None:
        callbacks.append(snapshot_each_epoch(state, parts, model, epochs))
    if not finished:
        model.fit(training_dataset(x_train, y_train, batch_size, seed, cfg.mixup, first, epochs,
                                   model.output_shape[-1], cfg.outlier_exposure),
                  epochs=epochs, initial_epoch=first, steps_per_epoch=steps, class_weight=class_weight,
                  callbacks=callbacks, shuffle=False, verbose=0)
    values = [row[monitor] for row in logger.rows]
    best = int(np.argmin(values) if mode == "min" else np.argmax(values))
    by_budget = budget is not None and budget.stopped_at is not None
    kept = best + 1 if cfg.restore == "best" else len(logger.rows)
    return TrainResult(logger.rows, best + 1, float(values[best]), clock.seconds(),
                       early.stopped_epoch > 0 and not by_budget, by_budget, kept, first)


def threads_note() -> str:
    """How many threads TensorFlow may use: a run stuck on one core shows here and in cpu_cores_busy."""
    import tensorflow as tf

    return (f"intra_op={tf.config.threading.get_intra_op_parallelism_threads()} "
            f"inter_op={tf.config.threading.get_inter_op_parallelism_threads()} cpus={os.cpu_count()}")
