"""The sections of the data stages: where the data is, how it is read, split and balanced."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ..labels import EMOTIONS, label_for_folder
from .messages import FERPLUS_MIX_NEEDS_FER2013, not_a_class
from .base import Count, Fraction, Name, NonNegative, NonNegativeFloat, Seconds, Section, rule


class MlflowSection(Section):
    experiment: Name


class DataSection(Section):
    raw_dir: Name
    source: Literal["auto", "csv", "folders", "synthetic"]
    synthetic_rows: Count


class LabelsSection(Section):
    """Which labels the models learn: FER2013's single label, or FER+'s ten votes per face
    (`data/raw/fer2013new.csv`), as the majority vote or as the whole vote distribution; or FER2013's
    label blended with FER+'s votes (`ferplus_mix`), a second, cleaner target for a 7-class model."""

    source: Literal["fer2013", "ferplus"]
    ferplus_target: Literal["majority", "distribution"]
    ferplus_mix: Annotated[float, Field(ge=0, le=1)]

    @model_validator(mode="after")
    def _mix_only_with_fer2013(self) -> LabelsSection:
        if self.ferplus_mix > 0 and self.source != "fer2013":
            raise rule("ferplus_mix", self.ferplus_mix, FERPLUS_MIX_NEEDS_FER2013)
        return self


class IngestSection(Section):
    on_bad_row: Literal["error", "skip"]
    blank_max_std: NonNegativeFloat


class EdaSection(Section):
    samples_per_class: Count
    blank_thumbnails: NonNegative
    duplicate_groups_shown: NonNegative
    kernel: Name
    cell_timeout_s: Seconds


class SplitSection(Section):
    strategy: Literal["official", "challenge", "study1"]
    val_fraction: Fraction


class SmoteSection(Section):
    k_neighbors: Count
    sampling_strategy: Literal["auto", "minority", "not minority", "not majority", "all"]
    reduce_k: bool


class BalanceSection(Section):
    smote: SmoteSection
    flip_classes: list[str]

    @field_validator("flip_classes")
    @classmethod
    def _known_classes(cls, names: list[str]) -> list[str]:
        for name in names:
            if label_for_folder(name) is None:
                raise ValueError(not_a_class(name, EMOTIONS))
        return names
