"""The caller's tensor layout: ONNX-style ``(d0, ..., n, ..., d_{r-2}, c)``.

The kernel transforms along ``axis`` and treats every other dimension but the
trailing complex one (``c``: 1 real, 2 complex interleaved) as batch: the
batch index is ``b = outer * inner_count + inner`` with ``outer`` the
row-major index over the dimensions before ``axis`` and ``inner`` over those
after it.  :class:`AxisLayout` maps ``(b, n, c)`` to the caller's index and
back; the first stage reads the input through it and the output block writes
through it, so there is no separate transpose pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fftc.codegen.tvm_api import te

from .butterfly import Cx, PrimExpr
from .stockham import Source


def unravel(index: PrimExpr, dims: Sequence[int]) -> list[PrimExpr]:
    """Row-major digits of ``index`` over ``dims``."""
    digits: list[PrimExpr] = []
    for i, dim in enumerate(reversed(dims)):
        last = i == len(dims) - 1
        digits.append(index if last else index % dim)
        index = index // dim
    return digits[::-1]


def ravel(digits: Sequence[PrimExpr], dims: Sequence[int]) -> PrimExpr:
    """The row-major index of ``digits`` over ``dims`` (0 for no dimensions)."""
    if not digits:
        return 0
    index = digits[0]
    for digit, dim in zip(digits[1:], dims[1:], strict=True):
        index = index * dim + digit
    return index


@dataclass(frozen=True)
class AxisLayout:
    """A ``(..., n, ..., c)`` tensor shape seen as ``(batch, n, c)``."""

    shape: tuple[int, ...]
    axis: int

    @property
    def outer_dims(self) -> tuple[int, ...]:
        return self.shape[: self.axis]

    @property
    def inner_dims(self) -> tuple[int, ...]:
        return self.shape[self.axis + 1 : -1]

    @property
    def batch(self) -> int:
        return math.prod(self.outer_dims) * math.prod(self.inner_dims)

    @property
    def complex(self) -> bool:
        return self.shape[-1] == 2

    def index(self, b: PrimExpr, n: PrimExpr, c: int) -> tuple[PrimExpr, ...]:
        """The caller's index of element ``(b, n, c)``."""
        inner_count = math.prod(self.inner_dims)
        if inner_count == 1:
            outer, inner = b, 0
        elif not self.outer_dims:
            outer, inner = 0, b
        else:
            outer, inner = b // inner_count, b % inner_count
        outer_digits = unravel(outer, self.outer_dims) if self.outer_dims else []
        inner_digits = unravel(inner, self.inner_dims) if self.inner_dims else []
        return (*outer_digits, n, *inner_digits, c)

    def split(self, index: Sequence[PrimExpr]) -> tuple[PrimExpr, PrimExpr, PrimExpr]:
        """``(b, n, c)`` of a caller's index (the inverse of :meth:`index`)."""
        outer = ravel(index[: self.axis], self.outer_dims)
        inner = ravel(index[self.axis + 1 : -1], self.inner_dims)
        inner_count = math.prod(self.inner_dims)
        b = inner if not self.outer_dims else outer * inner_count + inner
        return b, index[self.axis], index[-1]

    def source(self, x: te.Tensor) -> Source:
        """Read ``x`` (of this layout) as a complex signal ``(b, n)``."""
        if self.complex:
            return lambda b, n: Cx(x[self.index(b, n, 0)], x[self.index(b, n, 1)])
        return lambda b, n: Cx(x[self.index(b, n, 0)], None)

    def with_length(self, length: int, channels: int) -> AxisLayout:
        """The same layout with another extent along ``axis`` and ``channels`` for ``c``."""
        shape = list(self.shape)
        shape[self.axis] = length
        shape[-1] = channels
        return AxisLayout(tuple(shape), self.axis)
