"""The sections after training: the second study's baselines, evaluation, the registry, the report."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from ..labels import EMOTIONS, NUM_CLASSES
from .messages import not_a_validation_metric
from .base import Count, Fraction, Name, NonNegative, Positive, Seconds, Section

# The validation metrics a champion can be chosen by (evaluation.metrics computes them all).
SELECTABLE = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1",
              *(f"{kind}_{emotion}" for kind in ("f1", "precision", "recall") for emotion in EMOTIONS))
# A stratified subset keeps every class: fewer rows than twice the classes cannot be split.
Subset = Annotated[int, Field(ge=2 * NUM_CLASSES)] | None


class LogregSection(Section):
    C: Positive
    solver: Literal["lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"]
    max_iter: Count
    tol: Positive
    n_jobs: Count | Literal[-1] | None
    max_train_samples: Subset


class SvmSection(Section):
    method: Literal["exact", "nystroem"]
    pca_components: Count
    whiten: bool
    C: Positive
    gamma: Literal["scale"] | Positive
    nystroem_components: Count
    calibration_fraction: Fraction
    max_train_samples: Subset


class BaselinesSection(Section):
    balance: Literal["none", "flip"]
    logreg: LogregSection
    svm: SvmSection


class EvaluateSection(Section):
    select_by: str
    ensemble_top_k: NonNegative
    tta_flip: bool

    @field_validator("select_by")
    @classmethod
    def _a_metric(cls, value: str) -> str:
        if value not in SELECTABLE:
            raise ValueError(not_a_validation_metric(SELECTABLE[:4]))
        return value


class RegistrySection(Section):
    model_name: Name


class ExportSection(Section):
    """The export stage: the champion as ONNX, checked against Keras on the test rows."""

    opset: Annotated[int, Field(ge=13, le=18)]         # ONNX opset (tf2onnx 1.17 writes 13-18)
    min_agreement: Annotated[float, Field(gt=0, le=1)]  # share of test faces whose top class must match


class ReportSection(Section):
    n_mistakes: NonNegative
    calibration_bins: Count
    kernel: Name
    cell_timeout_s: Seconds
