"""The op registry: every IR op declares its attributes, signature, shape rule
and a NumPy reference implementation.

The NumPy reference serves three purposes: constant folding, the float64
reference in tests, and documentation of exact semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from fftc.ir.graph import Attrs, IRError, NoAttrs
from fftc.ir.types import TensorType

InferFn = Callable[[Sequence[TensorType | None], Attrs], list[TensorType]]
ReferenceFn = Callable[[Sequence[np.ndarray | None], Attrs], list[np.ndarray]]


class OpKind(StrEnum):
    """How an op maps inputs to outputs (used by fusion and cost decisions)."""

    elementwise = "elementwise"  # out[i] = f(in[i]) with broadcasting
    injective = "injective"  # data movement: each output element reads one input element
    reduction = "reduction"
    convolution = "convolution"
    spectral = "spectral"
    linalg = "linalg"
    opaque = "opaque"


@dataclass(frozen=True)
class OpDef:
    """The definition of one IR op.

    ``inputs`` names the operands; a trailing ``?`` marks an optional operand
    and a trailing ``*`` a variadic one (it must be last, at least one).
    """

    name: str
    inputs: tuple[str, ...]
    infer: InferFn
    reference: ReferenceFn
    attrs: type[Attrs] = NoAttrs
    num_outputs: int = 1
    kind: OpKind = OpKind.opaque
    doc: str = ""

    @property
    def variadic(self) -> bool:
        return bool(self.inputs) and self.inputs[-1].endswith("*")

    @property
    def min_inputs(self) -> int:
        return sum(1 for i in self.inputs if not i.endswith("?"))

    @property
    def max_inputs(self) -> int | None:
        return None if self.variadic else len(self.inputs)

    def check_arity(self, n: int, where: str) -> None:
        hi = self.max_inputs
        if n < self.min_inputs or (hi is not None and n > hi):
            want = f"{self.min_inputs}..{hi}" if hi != self.min_inputs else str(hi)
            if hi is None:
                want = f"at least {self.min_inputs}"
            raise IRError(f"{where}: {self.name} takes {want} inputs, got {n}")


_OPS: dict[str, OpDef] = {}


def register_op(op: OpDef) -> OpDef:
    if op.name in _OPS:
        raise ValueError(f"op {op.name!r} registered twice")
    _OPS[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    _load()
    try:
        return _OPS[name]
    except KeyError:
        raise IRError(f"unknown op {name!r}") from None


def all_ops() -> dict[str, OpDef]:
    _load()
    return dict(sorted(_OPS.items()))


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from fftc.ir.ops import (  # noqa: F401  (modules register their ops)
            conv,
            dft,
            elementwise,
            linalg,
            mixing,
            movement,
            norm,
            reduce,
            spectral,
        )
