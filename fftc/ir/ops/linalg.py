"""Linear algebra: ``matmul`` (NumPy semantics) and ``einsum``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir.graph import Attrs, IRError
from fftc.ir.ops.common import arr, broadcast_shapes, need, same_dtype
from fftc.ir.ops.registry import OpDef, OpKind, register_op
from fftc.ir.types import TensorType


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if not a or not b:
        raise IRError("matmul: operands must have rank >= 1")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise IRError(f"matmul: inner dims differ: {a} @ {b}")
    batch = broadcast_shapes("matmul", a2[:-2], b2[:-2])
    out = [*batch, a2[-2], b2[-1]]
    if len(b) == 1:
        out.pop(-1)
    if len(a) == 1:
        out.pop(-2 if len(b) != 1 else -1)
    return tuple(out)


def _matmul_infer(ts: Sequence[TensorType | None], _a: Attrs) -> list[TensorType]:
    a, b = need(ts[0], "a"), need(ts[1], "b")
    same_dtype("matmul", [a, b])
    return [TensorType(matmul_shape(a.shape, b.shape), a.dtype)]


def _matmul_ref(xs: Sequence[np.ndarray | None], _a: Attrs) -> list[np.ndarray]:
    a, b = arr(xs[0]), arr(xs[1])
    return [np.matmul(a, b).astype(a.dtype)]


register_op(
    OpDef(
        "matmul",
        ("a", "b"),
        _matmul_infer,
        _matmul_ref,
        kind=OpKind.linalg,
        doc="Matrix product with NumPy broadcasting (ONNX MatMul).",
    )
)


@dataclass(frozen=True)
class EinsumAttrs(Attrs):
    equation: str


def _split_terms(eq: str, n: int) -> tuple[list[str], str | None]:
    eq = eq.replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != n:
        raise IRError(f"einsum: equation {eq!r} has {len(terms)} operands, got {n} inputs")
    return terms, (rhs if "->" in eq else None)


def einsum_shape(eq: str, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    terms, rhs = _split_terms(eq, len(shapes))
    sizes: dict[str, int] = {}
    ell: tuple[int, ...] = ()
    for term, shape in zip(terms, shapes, strict=True):
        letters = term.replace("...", "")
        n_ell = len(shape) - len(letters)
        if ("..." in term and n_ell < 0) or ("..." not in term and n_ell != 0):
            raise IRError(f"einsum: term {term!r} does not match shape {shape}")
        head = term.split("...")[0] if "..." in term else term
        dims = list(shape)
        if "..." in term:
            ell = broadcast_shapes("einsum", ell, tuple(dims[len(head) : len(head) + n_ell]))
            dims = dims[: len(head)] + dims[len(head) + n_ell :]
        for ch, d in zip(letters, dims, strict=True):
            if not ch.isalpha():
                raise IRError(f"einsum: bad subscript {ch!r} in {eq!r}")
            if sizes.get(ch, d) != d and 1 not in (d, sizes[ch]):
                raise IRError(f"einsum: subscript {ch!r} has sizes {sizes[ch]} and {d}")
            sizes[ch] = max(sizes.get(ch, d), d)
    if rhs is None:
        counts = {c: "".join(terms).count(c) for c in sizes}
        rhs = ("..." if ell else "") + "".join(sorted(c for c, k in counts.items() if k == 1))
    out: list[int] = []
    head, _, tail = rhs.partition("...")
    for ch in head:
        out.append(sizes[ch])
    if "..." in rhs:
        out.extend(ell)
    for ch in tail:
        out.append(sizes[ch])
    return tuple(out)


def _einsum_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, EinsumAttrs)
    types = [need(t, f"operand {i}") for i, t in enumerate(ts)]
    same_dtype("einsum", types)
    try:
        shape = einsum_shape(a.equation, [t.shape for t in types])
    except KeyError as err:
        raise IRError(f"einsum: output subscript {err} not in the inputs") from None
    return [TensorType(shape, types[0].dtype)]


def _einsum_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, EinsumAttrs)
    ops = [arr(x) for x in xs]
    return [np.asarray(np.einsum(a.equation, *ops, optimize=True)).astype(ops[0].dtype)]


register_op(
    OpDef(
        "einsum",
        ("operands*",),
        _einsum_infer,
        _einsum_ref,
        EinsumAttrs,
        kind=OpKind.linalg,
        doc="Einstein summation (ONNX Einsum).",
    )
)
