"""MatMul, Gemm (as transpose/matmul/scale/add) and Einsum."""

from __future__ import annotations

from fftc.frontend.onnx.context import NodeContext
from fftc.frontend.onnx.registry import converter
from fftc.ir.ops.linalg import EinsumAttrs
from fftc.ir.ops.movement import TransposeAttrs


@converter("MatMul")
def matmul(ctx: NodeContext) -> list[str | None]:
    return [ctx.emit("matmul", [ctx.input(0), ctx.input(1)])]


@converter("Gemm")
def gemm(ctx: NodeContext) -> list[str | None]:
    a, b = ctx.input(0), ctx.input(1)
    if ctx.attr("transA", 0):
        a = ctx.emit("transpose", [a], TransposeAttrs((1, 0)))
    if ctx.attr("transB", 0):
        b = ctx.emit("transpose", [b], TransposeAttrs((1, 0)))
    y = ctx.emit("matmul", [a, b])
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    if alpha != 1.0:
        y = ctx.emit("mul", [y, ctx.scalar_like(alpha, y)])
    c = ctx.optional(2)
    if c is not None and beta != 0.0:
        if beta != 1.0:
            c = ctx.emit("mul", [c, ctx.scalar_like(beta, c)])
        y = ctx.emit("add", [y, c])
    return [y]


@converter("Einsum")
def einsum(ctx: NodeContext) -> list[str | None]:
    equation = ctx.required("equation", str).replace(" ", "")
    return [ctx.emit("einsum", ctx.inputs(), EinsumAttrs(equation))]
