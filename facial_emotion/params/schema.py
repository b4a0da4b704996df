"""params.yaml as one typed schema: every section, in the file's order."""

from __future__ import annotations

import itertools

from .base import RandomSeed, Section
from .data import (BalanceSection, DataSection, EdaSection, IngestSection, LabelsSection, MlflowSection,
                   SplitSection)
from .demo import DemoSection, ServeSection
from .results import BaselinesSection, EvaluateSection, ExportSection, RegistrySection, ReportSection
from .training import ACTIVATIONS, BALANCES, AugmentationSection, CnnSection, DistillSection, TrainSection

VARIANT_NAMES = tuple(f"cnn-{b}-{a}" for b, a in itertools.product(BALANCES, ACTIVATIONS))


class Params(Section):
    """The whole file. `variants` holds each CNN variant's complete training settings: its
    overrides in params.yaml deep-merged onto `train` and validated like `train`."""

    seed: RandomSeed
    mlflow: MlflowSection
    data: DataSection
    labels: LabelsSection
    ingest: IngestSection
    eda: EdaSection
    split: SplitSection
    balance: BalanceSection
    cnn: CnnSection
    augmentation: AugmentationSection
    train: TrainSection
    variants: dict[str, TrainSection]
    distill: DistillSection
    baselines: BaselinesSection
    evaluate: EvaluateSection
    registry: RegistrySection
    export: ExportSection
    report: ReportSection
    demo: DemoSection
    serve: ServeSection
