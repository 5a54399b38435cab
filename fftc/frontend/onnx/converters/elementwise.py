"""Elementwise ONNX ops: math, comparisons, logic, activations, Cast, Where.

Activations fftc does not keep as ops are written with the ops it has
(e.g. HardSigmoid = clip(alpha*x + beta, 0, 1)).
"""

from __future__ import annotations

import numpy as np

from fftc.frontend.onnx.context import NodeContext, onnx_dtype
from fftc.frontend.onnx.registry import converter
from fftc.ir.ops.elementwise import CastAttrs, ClipAttrs, GeluAttrs, ModAttrs
from fftc.ir.ops.movement import ReshapeAttrs
from fftc.ir.types import DType

_UNARY = {
    "Abs": "abs",
    "Acos": "acos",
    "Acosh": "acosh",
    "Asin": "asin",
    "Asinh": "asinh",
    "Atan": "atan",
    "Atanh": "atanh",
    "Ceil": "ceil",
    "Cos": "cos",
    "Cosh": "cosh",
    "Erf": "erf",
    "Exp": "exp",
    "Floor": "floor",
    "Log": "log",
    "Neg": "neg",
    "Reciprocal": "reciprocal",
    "Relu": "relu",
    "Round": "round",
    "Sigmoid": "sigmoid",
    "Sign": "sign",
    "Sin": "sin",
    "Sinh": "sinh",
    "Sqrt": "sqrt",
    "Tan": "tan",
    "Tanh": "tanh",
    "Not": "not",
    "IsNaN": "isnan",
}
_BINARY = {
    "Add": "add",
    "Sub": "sub",
    "Mul": "mul",
    "Div": "div",
    "Equal": "equal",
    "Less": "less",
    "LessOrEqual": "less_equal",
    "Greater": "greater",
    "GreaterOrEqual": "greater_equal",
    "And": "and",
    "Or": "or",
    "Xor": "xor",
}
_VARIADIC = {"Sum": "add", "Max": "max", "Min": "min"}


@converter(*_UNARY)
def unary(ctx: NodeContext) -> list[str | None]:
    return [ctx.emit(_UNARY[ctx.node.op_type], [ctx.input(0)])]


@converter(*_BINARY)
def binary(ctx: NodeContext) -> list[str | None]:
    return [ctx.emit(_BINARY[ctx.node.op_type], [ctx.input(0), ctx.input(1)])]


@converter(*_VARIADIC, "Mean")
def variadic(ctx: NodeContext) -> list[str | None]:
    args = ctx.inputs()
    if not args:
        ctx.fail("needs at least one input")
    op = _VARIADIC.get(ctx.node.op_type, "add")
    acc = args[0]
    for other in args[1:]:
        acc = ctx.emit(op, [acc, other])
    if ctx.node.op_type == "Mean" and len(args) > 1:
        acc = ctx.emit("div", [acc, ctx.scalar_like(len(args), acc)])
    return [acc]


@converter("Pow")
def pow_(ctx: NodeContext) -> list[str | None]:
    base, exp = ctx.input(0), ctx.input(1)
    b_type, e_type = ctx.type(base).dtype, ctx.type(exp).dtype
    if b_type == e_type:
        return [ctx.emit("pow", [base, exp])]
    if b_type.is_float:  # ONNX allows a different exponent type
        return [ctx.emit("pow", [base, ctx.emit("cast", [exp], CastAttrs(b_type))])]
    # integer base: compute in floating point, then back to the base's type
    wide = e_type if e_type.is_float else DType.float64
    result = ctx.emit(
        "pow",
        [
            ctx.emit("cast", [base], CastAttrs(wide)),
            exp if e_type == wide else ctx.emit("cast", [exp], CastAttrs(wide)),
        ],
    )
    return [ctx.emit("cast", [result], CastAttrs(b_type))]


@converter("Mod")
def mod(ctx: NodeContext) -> list[str | None]:
    return [ctx.emit("mod", [ctx.input(0), ctx.input(1)], ModAttrs(bool(ctx.attr("fmod", 0))))]


@converter("IsInf")
def isinf(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    inf = ctx.emit("isinf", [x])
    pos, neg = ctx.attr("detect_positive", 1), ctx.attr("detect_negative", 1)
    if pos and neg:
        return [inf]
    zero = ctx.scalar_like(0.0, x)
    side = ctx.emit("greater" if pos else "less", [x, zero])
    if not (pos or neg):
        return [ctx.emit("and", [inf, ctx.emit("not", [side])])]
    return [ctx.emit("and", [inf, side])]


@converter("Cast")
def cast(ctx: NodeContext) -> list[str | None]:
    to = onnx_dtype(ctx.required("to", int), "Cast target")
    x = ctx.input(0)
    if ctx.type(x).dtype == to:
        return [x]
    return [ctx.emit("cast", [x], CastAttrs(to))]


@converter("CastLike")
def cast_like(ctx: NodeContext) -> list[str | None]:
    x, to = ctx.input(0), ctx.type(ctx.input(1)).dtype
    return [x if ctx.type(x).dtype == to else ctx.emit("cast", [x], CastAttrs(to))]


@converter("Where")
def where(ctx: NodeContext) -> list[str | None]:
    return [ctx.emit("where", [ctx.input(0), ctx.input(1), ctx.input(2)])]


@converter("Identity", "Dropout")
def identity(ctx: NodeContext) -> list[str | None]:
    """Inference: Dropout passes its input through; its mask is all true."""
    x = ctx.input(0)
    if ctx.node.op_type != "Dropout":
        return [x]
    if ctx.has_input(2) and bool(ctx.require_const(2, "training_mode").reshape(-1)[0]):
        ctx.fail("training-mode Dropout (random) is not supported")
    if len(ctx.node.output) > 1 and ctx.node.output[1]:
        return [x, ctx.constant(np.ones(ctx.shape(x), dtype=np.bool_))]
    return [x]


@converter("Gelu", since=20)
def gelu(ctx: NodeContext) -> list[str | None]:
    approx = ctx.attr("approximate", "none")
    return [ctx.emit("gelu", [ctx.input(0)], GeluAttrs(approx))]


@converter("Clip")
def clip(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    bounds: list[float | None] = []
    for i in (1, 2):
        name = ctx.optional(i)
        value = ctx.const(name)
        if name is not None and value is None:  # a computed bound: use max/min
            x = ctx.emit("max" if i == 1 else "min", [x, name])
            bounds.append(None)
        else:
            bounds.append(None if value is None else float(value.reshape(())))
    if bounds == [None, None]:
        return [x]
    return [ctx.emit("clip", [x], ClipAttrs(bounds[0], bounds[1]))]


def _where_positive(ctx: NodeContext, x: str, negative_branch: str, strict: bool = True) -> str:
    zero = ctx.scalar_like(0.0, x)
    cond = ctx.emit("greater" if strict else "greater_equal", [x, zero])
    return ctx.emit("where", [cond, x, negative_branch])


@converter("LeakyRelu")
def leaky_relu(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    neg = ctx.emit("mul", [x, ctx.scalar_like(float(ctx.attr("alpha", 0.01)), x)])
    return [_where_positive(ctx, x, neg)]


@converter("PRelu")
def prelu(ctx: NodeContext) -> list[str | None]:
    """A per-channel slope of shape (C,) (older exporters) applies along axis 1."""
    x, slope = ctx.input(0), ctx.input(1)
    shape, s_shape = ctx.shape(x), ctx.shape(slope)
    try:
        np.broadcast_shapes(shape, s_shape)
    except ValueError:
        if len(s_shape) == 1 and len(shape) >= 2 and s_shape[0] == shape[1]:
            slope = ctx.emit(
                "reshape", [slope], ReshapeAttrs((s_shape[0],) + (1,) * (len(shape) - 2))
            )
    return [_where_positive(ctx, x, ctx.emit("mul", [x, slope]))]


def _expm1_scaled(ctx: NodeContext, x: str, alpha: float, inner: float = 1.0) -> str:
    """alpha * (exp(x / inner) - 1)."""
    arg = x if inner == 1.0 else ctx.emit("div", [x, ctx.scalar_like(inner, x)])
    e = ctx.emit("sub", [ctx.emit("exp", [arg]), ctx.scalar_like(1.0, x)])
    return ctx.emit("mul", [e, ctx.scalar_like(alpha, x)])


@converter("Elu")
def elu(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    return [_where_positive(ctx, x, _expm1_scaled(ctx, x, float(ctx.attr("alpha", 1.0))))]


@converter("Celu")
def celu(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    alpha = float(ctx.attr("alpha", 1.0))
    return [_where_positive(ctx, x, _expm1_scaled(ctx, x, alpha, alpha))]


@converter("Selu")
def selu(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    alpha = float(ctx.attr("alpha", 1.67326319217681884765625))
    gamma = float(ctx.attr("gamma", 1.05070102214813232421875))
    y = _where_positive(ctx, x, _expm1_scaled(ctx, x, alpha))
    return [ctx.emit("mul", [y, ctx.scalar_like(gamma, x)])]


@converter("ThresholdedRelu")
def thresholded_relu(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    cond = ctx.emit("greater", [x, ctx.scalar_like(float(ctx.attr("alpha", 1.0)), x)])
    return [ctx.emit("where", [cond, x, ctx.scalar_like(0.0, x)])]


def _hard_sigmoid(ctx: NodeContext, x: str, alpha: float, beta: float) -> str:
    lin = ctx.emit(
        "add", [ctx.emit("mul", [x, ctx.scalar_like(alpha, x)]), ctx.scalar_like(beta, x)]
    )
    return ctx.emit("clip", [lin], ClipAttrs(0.0, 1.0))


@converter("HardSigmoid")
def hard_sigmoid(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    alpha, beta = float(ctx.attr("alpha", 0.2)), float(ctx.attr("beta", 0.5))
    return [_hard_sigmoid(ctx, x, alpha, beta)]


@converter("HardSwish")
def hard_swish(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    return [ctx.emit("mul", [x, _hard_sigmoid(ctx, x, 1.0 / 6.0, 0.5)])]


def _softplus(ctx: NodeContext, x: str) -> str:
    """log(1 + exp(x)), written as max(x, 0) + log(1 + exp(-|x|)) to avoid overflow."""
    pos = ctx.emit("relu", [x])
    tail = ctx.emit("exp", [ctx.emit("neg", [ctx.emit("abs", [x])])])
    return ctx.emit(
        "add", [pos, ctx.emit("log", [ctx.emit("add", [tail, ctx.scalar_like(1.0, x)])])]
    )


@converter("Softplus")
def softplus(ctx: NodeContext) -> list[str | None]:
    return [_softplus(ctx, ctx.input(0))]


@converter("Mish")
def mish(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    return [ctx.emit("mul", [x, ctx.emit("tanh", [_softplus(ctx, x)])])]


@converter("Softsign")
def softsign(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    den = ctx.emit("add", [ctx.emit("abs", [x]), ctx.scalar_like(1.0, x)])
    return [ctx.emit("div", [x, den])]


@converter("Shrink")
def shrink(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    lambd, bias = float(ctx.attr("lambd", 0.5)), float(ctx.attr("bias", 0.0))
    hi = ctx.emit("greater", [x, ctx.scalar_like(lambd, x)])
    lo = ctx.emit("less", [x, ctx.scalar_like(-lambd, x)])
    up = ctx.emit("sub", [x, ctx.scalar_like(bias, x)])
    down = ctx.emit("add", [x, ctx.scalar_like(bias, x)])
    zero = ctx.scalar_like(0.0, x)
    return [ctx.emit("where", [hi, up, ctx.emit("where", [lo, down, zero])])]
