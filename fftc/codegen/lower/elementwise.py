"""Elementwise IR ops -> Relax ops."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from fftc.codegen.lower.registry import Expr, LowerContext, lowers
from fftc.codegen.tvm_api import relax
from fftc.ir import Node
from fftc.ir.ops.elementwise import CastAttrs, ClipAttrs, GeluAttrs, ModAttrs

op = relax.op

_UNARY: dict[str, Callable[[Any], Any]] = {
    "abs": op.abs,
    "acos": op.acos,
    "acosh": op.acosh,
    "asin": op.asin,
    "asinh": op.asinh,
    "atan": op.atan,
    "atanh": op.atanh,
    "ceil": op.ceil,
    "cos": op.cos,
    "cosh": op.cosh,
    "erf": op.erf,
    "exp": op.exp,
    "floor": op.floor,
    "log": op.log,
    "neg": op.negative,
    "relu": op.nn.relu,
    "round": op.round,
    "sigmoid": op.sigmoid,
    "sign": op.sign,
    "sin": op.sin,
    "sinh": op.sinh,
    "sqrt": op.sqrt,
    "tan": op.tan,
    "tanh": op.tanh,
    "not": op.logical_not,
    "isnan": op.isnan,
    "isinf": op.isinf,
}
_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": op.add,
    "sub": op.subtract,
    "mul": op.multiply,
    "div": op.divide,
    "pow": op.power,
    "max": op.maximum,
    "min": op.minimum,
    "equal": op.equal,
    "less": op.less,
    "less_equal": op.less_equal,
    "greater": op.greater,
    "greater_equal": op.greater_equal,
    "and": op.logical_and,
    "or": op.logical_or,
    "xor": op.logical_xor,
}


@lowers(*_UNARY)
def unary(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    return [ctx.emit(_UNARY[node.op](args[0]))]


@lowers(*_BINARY)
def binary(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    return [ctx.emit(_BINARY[node.op](args[0], args[1]))]


@lowers("reciprocal")
def reciprocal(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    one = relax.const(1.0, node.output.type.dtype.value)
    return [ctx.emit(op.divide(one, args[0]))]


@lowers("mod")
def mod(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    """fmod: C's fmod (``op.mod``).  Otherwise Python's/NumPy's %: for floats built
    from fmod so that infinite divisors and signed zeros come out as NumPy's."""
    assert isinstance(node.attrs, ModAttrs)
    a, b = args[0], args[1]
    dtype = node.output.type.dtype
    if node.attrs.fmod:
        return [ctx.emit(op.mod(a, b))]
    if not dtype.is_float:
        return [ctx.emit(op.floor_mod(a, b))]
    zero = relax.const(0.0, dtype.value)
    r = ctx.emit(op.mod(a, b))
    b_neg = op.less(b, zero)
    differ = op.logical_and(op.not_equal(r, zero), op.logical_xor(op.less(r, zero), b_neg))
    r = ctx.emit(op.where(differ, op.add(r, b), r))
    signed_zero = op.where(b_neg, relax.const(-0.0, dtype.value), zero)
    return [ctx.emit(op.where(op.equal(r, zero), signed_zero, r))]


@lowers("gelu")
def gelu(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    """Written with erf/tanh so the backend's vectorised fast erf/tanh apply."""
    assert isinstance(node.attrs, GeluAttrs)
    x = args[0]
    dtype = node.output.type.dtype.value

    def c(v: float) -> Expr:
        return relax.const(v, dtype)

    if node.attrs.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        inner = op.multiply(
            c(math.sqrt(2 / math.pi)),
            op.add(x, op.multiply(c(0.044715), op.multiply(x, op.multiply(x, x)))),
        )
        cdf = op.add(c(0.5), op.multiply(c(0.5), op.tanh(inner)))
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        cdf = op.add(c(0.5), op.multiply(c(0.5), op.erf(op.multiply(x, c(math.sqrt(0.5))))))
    return [ctx.emit(op.multiply(x, cdf))]


@lowers("clip")
def clip(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, ClipAttrs)
    x = args[0]
    dtype = node.output.type.dtype.value
    if node.attrs.min is not None:
        x = ctx.emit(op.maximum(x, relax.const(node.attrs.min, dtype)))
    if node.attrs.max is not None:
        x = ctx.emit(op.minimum(x, relax.const(node.attrs.max, dtype)))
    return [x]


@lowers("where")
def where(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    return [ctx.emit(op.where(args[0], args[1], args[2]))]


@lowers("cast")
def cast(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    assert isinstance(node.attrs, CastAttrs)
    return [ctx.emit(op.astype(args[0], node.attrs.to.value))]
