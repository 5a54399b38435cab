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
from fftc.ir import DType, Node, Value
from fftc.ir.types import TensorType

Expr = Any  # relax.Expr (TVM is untyped)


@dataclass
class LowerContext:
    """The Relax block builder plus per-node knobs and what lowering decided."""

    bb: Any
    types: Mapping[str, TensorType]
    knobs: dict[str, dict[str, int | str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the TVM target kind the module is for (``"llvm"``, ``"cuda"``): CUDA variants
    #: of some lowerings (``cuda_kernels.py``) apply only to ``"cuda"``
    target_kind: str = "llvm"
    #: ``--dtype`` (cuda): the precision of the matmuls in fftc's CUDA kernels
    compute_dtype: str = "float32"
    #: labels of the nodes lowered to the Monarch kernel (``cuda_kernels.py``)
    monarch_ops: list[str] = field(default_factory=list)

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


#: dtypes computed in float32 by ops that accumulate (matmuls, reductions, norms, FFTs)
NARROW_FLOATS = ("float16", "bfloat16")


def accumulate_in_f32(fn: LowerFn) -> LowerFn:
    """Run a lowering in float32 when its result is float16/bfloat16: inputs of that
    dtype are widened and results narrowed, so sums accumulate in float32 (as
    onnxruntime's CPU kernels and NumPy's per-op rounding do)."""

    def wrapped(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
        narrow = [v.type.dtype.value for v in node.outputs if v.type.dtype.value in NARROW_FLOATS]
        if not narrow:
            return fn(ctx, node, args)
        wide = [
            None
            if a is None
            else ctx.emit(relax.op.astype(a, "float32"))
            if ctx.input_type(node, i).dtype.value in NARROW_FLOATS
            else a
            for i, a in enumerate(args)
        ]
        f32_node = node.replace(
            outputs=tuple(
                Value(v.name, v.type.with_dtype(DType.float32))
                if v.type.dtype.value in NARROW_FLOATS
                else v
                for v in node.outputs
            )
        )
        outs = fn(ctx, f32_node, wide)
        return [
            ctx.emit(relax.op.astype(o, v.type.dtype.value))
            if v.type.dtype.value in NARROW_FLOATS
            else o
            for o, v in zip(outs, node.outputs, strict=True)
        ]

    return wrapped


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
            mixing,
            movement,
            reduce,
        )
