"""The learning-rate policy, whole: for each `train.lr_schedule`, the rate the optimizer starts with
and the callbacks that move it during training. Keras is imported when the policy is made."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..params.training import TrainSection


def learning_rate_policy(cfg: TrainSection, steps_per_epoch: int, epochs: int, clock) -> tuple[Any, list]:
    """(the optimizer's learning rate: a float or a Keras schedule over the steps, the callbacks that
    move the rate during training), for `cfg.lr_schedule`:

    - plateau (the study): learning_rate, times reduce_lr.factor each time reduce_lr.monitor stalls
      for reduce_lr.patience epochs, never below min_learning_rate.
    - constant: learning_rate throughout.
    - cosine: a cosine from learning_rate down to min_learning_rate over every step of `epochs`.
    - onecycle: Keras' CosineDecay with its linear warm-up: from learning_rate / onecycle.div_factor
      up to learning_rate over onecycle.warmup_fraction of the steps, then the cosine down.
    - cosine_time: the same cosine over time_budget_minutes of training time (`clock`, which counts
      what a resumed run spent before), set before every batch. On this project's shared 2-core CPU
      epochs of one network vary (29-37 s in one run), so a step-based cosine sized for a budget
      either ends early or is cut off half-way down; keyed on time, the rate reaches its floor when
      the budget does, and the TimeBudget callback ends training at the last whole epoch that fits.
    """
    import keras

    from .callbacks import RateByClock

    peak, floor = cfg.learning_rate, cfg.min_learning_rate
    total = max(1, steps_per_epoch * epochs)
    schedule = cfg.lr_schedule
    if schedule == "plateau":
        plateau = cfg.reduce_lr
        return peak, [keras.callbacks.ReduceLROnPlateau(
            monitor=plateau.monitor, mode=plateau.mode, factor=plateau.factor,
            patience=plateau.patience, min_lr=floor, verbose=0)]
    if schedule == "constant":
        return peak, []
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=total, alpha=floor / peak), []
    if schedule == "onecycle":
        cycle = cfg.onecycle
        warmup = max(1, round(total * cycle.warmup_fraction))
        return keras.optimizers.schedules.CosineDecay(peak / cycle.div_factor, decay_steps=max(1, total - warmup),
                                                      alpha=floor / peak, warmup_target=peak, warmup_steps=warmup), []
    if schedule == "cosine_time":  # params.yaml's schema makes sure it has a time budget
        budget = cfg.time_budget_minutes * 60
        return peak, [RateByClock(lambda seconds: cosine(seconds / budget, peak, floor), clock)]
    raise ValueError(f"train.lr_schedule {schedule!r} has no learning-rate policy")


def cosine(progress: float, peak: float, floor: float) -> float:
    """Half a cosine from peak (progress 0) to floor (progress 1 and after)."""
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))
