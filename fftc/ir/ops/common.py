"""Helpers shared by the op definitions: broadcasting, axis checks, arg access."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fftc.ir.graph import IRError
from fftc.ir.types import TensorType


def need(t: TensorType | None, what: str) -> TensorType:
    """An input type that must be present."""
    if t is None:
        raise IRError(f"missing required input {what}")
    return t


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy/ONNX multidirectional broadcasting, with an IR error on mismatch."""
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise IRError(f"{op}: shapes {list(shapes)} do not broadcast") from None


def same_dtype(op: str, types: Sequence[TensorType]) -> None:
    dtypes = {t.dtype for t in types}
    if len(dtypes) > 1:
        names = sorted(d.value for d in dtypes)
        raise IRError(f"{op}: operands have different dtypes {names}")


def norm_axis(op: str, axis: int, rank: int) -> int:
    """Check a non-negative axis (the IR stores axes normalised)."""
    if not 0 <= axis < max(rank, 1):
        raise IRError(f"{op}: axis {axis} out of range for rank {rank}")
    return axis


def check_axes(op: str, axes: Sequence[int], rank: int) -> None:
    for a in axes:
        norm_axis(op, a, rank)
    if len(set(axes)) != len(axes):
        raise IRError(f"{op}: repeated axes {list(axes)}")


def arr(x: np.ndarray | None) -> np.ndarray:
    if x is None:
        raise IRError("missing required input")
    return x
