"""Normalizations kept as ops (a later fusion pass wants to see them):
``layer_norm`` and ``group_norm``.  Batch norm (inference) becomes mul/add
in the importer; instance norm is a group norm with one channel per group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir.graph import Attrs, IRError
from fftc.ir.ops.common import arr, broadcast_shapes, need, norm_axis
from fftc.ir.ops.registry import OpDef, OpKind, register_op
from fftc.ir.types import TensorType


@dataclass(frozen=True)
class LayerNormAttrs(Attrs):
    """Normalise over axes ``[axis, rank)`` (ONNX LayerNormalization)."""

    axis: int
    epsilon: float = 1e-5


def _ln_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, LayerNormAttrs)
    x, scale = need(ts[0], "x"), need(ts[1], "scale")
    norm_axis("layer_norm", a.axis, x.rank)
    tail = x.shape[a.axis :]
    for name, t in (("scale", scale), ("bias", ts[2])):
        if t is not None and broadcast_shapes("layer_norm", tail, t.shape) != tail:
            raise IRError(f"layer_norm: {name} {t} does not broadcast to {list(tail)}")
    return [x]


def _ln_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, LayerNormAttrs)
    x = arr(xs[0])
    x64 = x.astype(np.float64)
    axes = tuple(range(a.axis, x.ndim))
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x64 - mean) / np.sqrt(var + a.epsilon) * arr(xs[1])
    if xs[2] is not None:
        y = y + xs[2]
    return [y.astype(x.dtype)]


register_op(
    OpDef(
        "layer_norm",
        ("x", "scale", "bias?"),
        _ln_infer,
        _ln_ref,
        LayerNormAttrs,
        kind=OpKind.reduction,
        doc="Layer normalization over the trailing axes.",
    )
)


@dataclass(frozen=True)
class GroupNormAttrs(Attrs):
    """Channels (axis 1) split into ``num_groups``; scale/bias are per channel."""

    num_groups: int
    epsilon: float = 1e-5


def _gn_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, GroupNormAttrs)
    x, scale, bias = need(ts[0], "x"), need(ts[1], "scale"), need(ts[2], "bias")
    if x.rank < 3 or a.num_groups < 1 or x.shape[1] % a.num_groups:
        raise IRError(f"group_norm: {a.num_groups} groups do not divide the channels of {x}")
    for name, t in (("scale", scale), ("bias", bias)):
        if t.shape != (x.shape[1],):
            raise IRError(f"group_norm: {name} must have shape ({x.shape[1]},), got {t}")
    return [x]


def _gn_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, GroupNormAttrs)
    x = arr(xs[0])
    n, c = x.shape[:2]
    g = x.astype(np.float64).reshape(n, a.num_groups, -1)
    mean = g.mean(axis=2, keepdims=True)
    var = ((g - mean) ** 2).mean(axis=2, keepdims=True)
    y = ((g - mean) / np.sqrt(var + a.epsilon)).reshape(x.shape)
    bshape = (1, c) + (1,) * (x.ndim - 2)
    y = y * arr(xs[1]).reshape(bshape) + arr(xs[2]).reshape(bshape)
    return [y.astype(x.dtype)]


register_op(
    OpDef(
        "group_norm",
        ("x", "scale", "bias"),
        _gn_infer,
        _gn_ref,
        GroupNormAttrs,
        kind=OpKind.reduction,
        doc="Group normalization with per-channel affine.",
    )
)
