"""What one stage may read of the validated params: exactly the keys it declares.

A stage declares its keys once (`PARAMS` in its module); dvc.yaml lists the same keys (a test
checks it), so DVC reruns the stage when, and only when, one of them changes. Reading any other
key fails loudly instead of making the stage depend on a param DVC does not watch.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

from pydantic import BaseModel

from ..errors import PipelineError
from .messages import ParamsError, undeclared, variant_missing
from .schema import Params

ALL = "params.yaml"  # declared by a stage that reads the whole file (the report's changed-params header)


class UndeclaredParamError(PipelineError, RuntimeError):
    """A stage read a key it does not declare: a bug in the stage, and a dependency DVC misses."""


class _Node:
    """A validated section seen through the declared keys under it."""

    def __init__(self, value: Any, prefix: str, reads: frozenset[str]):
        self._value, self._prefix, self._reads = value, prefix, reads

    def _child(self, key: str) -> Any:
        dotted = f"{self._prefix}{key}"
        if dotted in self._reads or ALL in self._reads:
            return _child_value(self._value, key, dotted)
        if any(r.startswith(dotted + ".") for r in self._reads):
            return _Node(_child_value(self._value, key, dotted), dotted + ".", self._reads)
        raise UndeclaredParamError(undeclared(dotted))

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        return self._child(key)

    def __getitem__(self, key: str) -> Any:
        return self._child(key)


def _child_value(value: Any, key: str, dotted: str) -> Any:
    if isinstance(value, dict):
        if key not in value:
            raise ParamsError(variant_missing(dotted))
        return value[key]
    return getattr(value, key)


class StageParams(_Node):
    """`params.train.epochs`, `params.mlflow.experiment`: typed values, declared keys only."""

    def __init__(self, params: Params, reads: Iterable[str]):
        self.reads = tuple(reads)
        super().__init__(params, "", frozenset(self.reads))

    def logged(self) -> dict[str, Any]:
        """The declared keys and their validated values, for MLflow: no typo can sit beside its key."""
        if ALL in self.reads:
            return self._value.model_dump()
        out: dict[str, Any] = {}
        for dotted in self.reads:
            node = self
            for part in dotted.split("."):
                node = node[part]
            target = out
            *parents, leaf = dotted.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = node.model_dump() if isinstance(node, BaseModel) else node
        return out
