"""What every params section shares: strict types, unknown keys refused, and the value types
(a whole number >= 1, a fraction in (0, 1), ...) that the sections are written in."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError


class Section(BaseModel):
    """A params.yaml mapping: every key required, no key unknown, no type guessed.

    Strict: YAML already types its values, so `seed: "42"` or `flip: 1` are mistakes, not
    numbers or booleans in disguise (a whole number is still accepted where a float is asked).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def rule(key: str, value: Any, message: str) -> PydanticCustomError:
    """A cross-field error, reported at `<section>.<key>` with its value and what is allowed."""
    return PydanticCustomError("params_rule", "{message}", {"key": key, "value": value, "message": message})


Count = Annotated[int, Field(ge=1)]             # a whole number >= 1
NonNegative = Annotated[int, Field(ge=0)]       # a whole number >= 0
Fraction = Annotated[float, Field(gt=0, lt=1)]  # strictly between 0 and 1
Rate = Annotated[float, Field(ge=0, lt=1)]      # 0 (off) up to, not including, 1
Positive = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]
Seconds = Annotated[int, Field(ge=1)] | None    # a cell time limit; null = none
RandomSeed = Annotated[int, Field(ge=0, lt=2**32)]  # a random seed, as numpy takes it
