"""The CNN sections: the networks (`cnn`), their augmentation layers and the training loop (`train`),
with the rules that tie keys together (AdamW's decay, the cosine_time budget, the pool shortcut)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ..labels import IMAGE_SIZE
from .messages import (COSINE_TIME_NEEDS_BUDGET, crop_window, decay_needs_adamw, floor_above_peak,
                       pool_shortcut_narrows, seeds_repeated)
from .base import Count, Fraction, Name, NonNegative, NonNegativeFloat, Positive, RandomSeed, Rate, Section, rule

# The CNN variants are cnn-<balance>-<activation> (dvc.yaml's `train` matrix and params `variants`).
BALANCES = ("none", "class_weight", "smote")
ACTIVATIONS = ("relu", "elu", "gelu", "swish", "selu")
Widths = Annotated[list[Count], Field(min_length=1)]


class Study1Section(Section):
    """The first study's network."""

    filters: Widths
    dense_units: list[Count]
    dropout: Rate


class CompactSection(Section):
    base_filters: Count
    blocks: Widths
    dropout: Rate
    se_ratio: NonNegative
    stem_padding: Literal["valid", "same"]
    shortcut: Literal["conv", "pool"]

    @model_validator(mode="after")
    def _pool_shortcut_never_narrows(self) -> CompactSection:
        """A pool shortcut pads new channels with zeros: it cannot drop channels."""
        if self.shortcut == "pool":
            widths = [self.base_filters, *self.blocks]
            if any(b < a for a, b in zip(widths, widths[1:])):
                raise rule("blocks", self.blocks, pool_shortcut_narrows(self.base_filters))
        return self


class VggSection(Section):
    filters: Widths
    dense_units: list[Count]
    dropout: Rate


class CnnSection(Section):
    architecture: Literal["study1", "compact", "vgg"]
    l2: NonNegativeFloat
    study1: Study1Section
    compact: CompactSection
    vgg: VggSection

    def settings(self) -> dict:
        """The chosen architecture's own settings, as the builder's keyword arguments."""
        return getattr(self, self.architecture).model_dump()


class AugmentationSection(Section):
    flip: bool
    rotation: Annotated[float, Field(ge=0, le=0.5)]
    shift: Rate
    zoom: Rate
    crop: NonNegative
    contrast: Annotated[float, Field(ge=0, le=1)]

    @model_validator(mode="after")
    def _crop_fits(self) -> AugmentationSection:
        if self.crop and not 8 <= self.crop < IMAGE_SIZE:
            raise rule("crop", self.crop, crop_window(IMAGE_SIZE))
        return self


Monitor = Literal["val_accuracy", "val_loss", "accuracy", "loss"]


class OneCycleSection(Section):
    warmup_fraction: Fraction
    div_factor: Annotated[float, Field(ge=1)]


class MonitoredSection(Section):
    """A callback that watches one logged metric: lower is better for a loss, higher for the rest."""

    monitor: Monitor

    @property
    def mode(self) -> Literal["min", "max"]:
        return "min" if "loss" in self.monitor else "max"


class EarlyStoppingSection(MonitoredSection):
    patience: NonNegative


class ReduceLrSection(MonitoredSection):
    factor: Fraction
    patience: NonNegative


class TrainSection(Section):
    epochs: Count
    batch_size: Count
    optimizer: Literal["adam", "adamw", "sgd"]
    learning_rate: Positive
    min_learning_rate: NonNegativeFloat
    lr_schedule: Literal["plateau", "cosine", "onecycle", "constant", "cosine_time"]
    onecycle: OneCycleSection
    weight_decay: NonNegativeFloat
    weight_decay_exclude: list[Name]
    momentum: Rate
    label_smoothing: Rate
    mixup: Annotated[float, Field(ge=0, le=10)]
    outlier_exposure: Annotated[float, Field(ge=0, le=1)]
    ema_momentum: Fraction | None
    restore: Literal["best", "last"]
    time_budget_minutes: Positive | None
    early_stopping: EarlyStoppingSection
    reduce_lr: ReduceLrSection
    deterministic: bool
    synthetic_max_epochs: NonNegative

    @model_validator(mode="after")
    def _keys_agree(self) -> TrainSection:
        # Decoupled weight decay is AdamW's: with Adam or SGD it would be silently ignored, and a
        # sweep over it would compare identical runs.
        if self.optimizer != "adamw":
            for key in ("weight_decay", "weight_decay_exclude"):
                if getattr(self, key):
                    raise rule(key, getattr(self, key), decay_needs_adamw(self.optimizer, key))
        if self.lr_schedule == "cosine_time" and self.time_budget_minutes is None:
            raise rule("time_budget_minutes", None, COSINE_TIME_NEEDS_BUDGET)
        if self.min_learning_rate > self.learning_rate:
            raise rule("min_learning_rate", self.min_learning_rate, floor_above_peak(self.learning_rate))
        return self


class DistillSection(Section):
    """Knowledge distillation: `teachers` are the seeds of networks trained like cnn-none-relu (the
    `teacher` stages); each CNN's training target becomes (1 - weight) * its label target + weight *
    the teachers' mean probabilities (the `teach` stage). No teachers: no distillation."""

    teachers: list[RandomSeed]
    weight: Annotated[float, Field(gt=0, le=1)]
    tta_flip: bool

    @field_validator("teachers")
    @classmethod
    def _unique(cls, seeds: list[int]) -> list[int]:
        # One seed twice would train the same teacher twice and count it twice in the mean.
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise ValueError(seeds_repeated(repeated))
        return seeds
