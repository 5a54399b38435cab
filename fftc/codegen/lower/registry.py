"""How each IR op becomes Relax: one lowering function per op, per-family modules.

A lowering is ``fn(ctx, node, args) -> list[relax.Expr]``: ``args`` are the
Relax expressions of the node's inputs (``None`` for absent optional inputs).
Ops fftc specializes (convolution, DFT) emit fftc's own TIR kernels with
``bb.emit_te``; the others use Relax ops, which TVM legalizes to TIR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fftc.codegen.tvm_api import relax
from fftc.ir import Node
from fftc.ir.types import TensorType

Expr = Any  # relax.Expr (TVM is untyped)


@dataclass
class LowerContext:
    """The Relax block builder plus per-node knobs and what lowering decided."""

    bb: Any
    types: Mapping[str, TensorType]
    knobs: dict[str, dict[str, int | str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def emit(self, expr: Expr) -> Expr:
        return self.bb.emit(expr)

    def input_type(self, node: Node, i: int) -> TensorType:
        name = node.inputs[i]
        assert name is not None
        return self.types[name]

    def node_knobs(self, node: Node) -> dict[str, int | str]:
        return self.knobs.get(node.name, {})


LowerFn = Callable[[LowerContext, Node, Sequence[Expr | None]], list[Expr]]
_LOWERINGS: dict[str, LowerFn] = {}


def lowers(*ops: str) -> Callable[[LowerFn], LowerFn]:
    def wrap(fn: LowerFn) -> LowerFn:
        for op in ops:
            if op in _LOWERINGS:
                raise ValueError(f"lowering for {op!r} registered twice")
            _LOWERINGS[op] = fn
        return fn

    return wrap


def lowering_for(op: str) -> LowerFn | None:
    _load()
    return _LOWERINGS.get(op)


def relax_type(t: TensorType) -> Any:
    return relax.TensorType(t.shape, t.dtype.value)


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from fftc.codegen.lower import (  # noqa: F401  (registration)
            elementwise,
            kernels,
            movement,
            reduce,
        )
