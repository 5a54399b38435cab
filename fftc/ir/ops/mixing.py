"""Per-frequency channel mixing: ``freq_mix``, the spectral form of a dense or
grouped convolution and of FNO's spectral convolution.

``freq_mix(x, weight){groups}``: ``x`` is a spectrum ``(B..., C_in, *F, 2)``
(re, im in the trailing dim; ``B...`` any leading batch dims, the channel axis
given by the weight's rank), ``weight`` is ``(C_out, C_in / groups, 2, *F)``
(planar: the real plane, then the imaginary one, each frequency-contiguous,
the layout the kernel streams) and the result ``(B..., C_out, *F, 2)``::

    y[b, o, f] = sum_i x[b, g(o) * C_in/groups + i, f] * weight[o, i, f]     (complex)

with ``g(o) = o // (C_out / groups)``: at every frequency ``f`` a complex
matrix product over the channels of each group.  By the convolution theorem a
dense convolution is ``irfft(freq_mix(rfft(x), conj(rfft(w))))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir.graph import Attrs, IRError
from fftc.ir.ops.common import arr, need, same_dtype
from fftc.ir.ops.registry import OpDef, OpKind, register_op
from fftc.ir.ops.spectral import complex_of, planar_of
from fftc.ir.types import TensorType


@dataclass(frozen=True)
class FreqMixAttrs(Attrs):
    groups: int = 1


def _freq_mix_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, FreqMixAttrs)
    x, w = need(ts[0], "x"), need(ts[1], "weight")
    same_dtype("freq_mix", [x, w])
    if not x.dtype.is_float:
        raise IRError(f"freq_mix: operands must be floating point, got {x.dtype.value}")
    if x.shape[-1:] != (2,):
        raise IRError(f"freq_mix: x {x} must be a complex (..., 2) tensor")
    if w.rank < 3 or w.shape[2] != 2:
        raise IRError(f"freq_mix: weight {w} must be planar (C_out, C_in/groups, 2, *F)")
    lead = x.rank - w.rank + 1  # x's batch dims
    if lead < 0:
        raise IRError(f"freq_mix: x {x} has fewer dims than the weight {w} less one")
    freq = w.shape[3:]
    c_in = x.shape[lead]
    if x.shape[lead + 1 : -1] != freq:
        raise IRError(f"freq_mix: frequencies of x {x} and weight {w} differ")
    c_out, per_group = w.shape[:2]
    if a.groups < 1 or c_in % a.groups or c_out % a.groups or c_in // a.groups != per_group:
        raise IRError(
            f"freq_mix: {a.groups} groups do not fit {c_in} input channels, weight {w} "
            f"(weight dim 1 must be C_in / groups)"
        )
    return [x.with_shape((*x.shape[:lead], c_out, *freq, 2))]


def freq_mix_reference(x: np.ndarray, w: np.ndarray, groups: int) -> np.ndarray:
    """float64 einsum per group; result in ``x``'s dtype."""
    lead = x.ndim - w.ndim + 1
    xc, wc = complex_of(x), complex_of(np.moveaxis(w, 2, -1))
    c_in, c_out = xc.shape[lead], wc.shape[0]
    parts = []
    for g in range(groups):
        xg = np.take(xc, range(g * c_in // groups, (g + 1) * c_in // groups), axis=lead)
        wg = wc[g * c_out // groups : (g + 1) * c_out // groups]
        xg = np.moveaxis(xg, lead, -1)  # (B..., F..., i)
        wg = np.moveaxis(wg, (0, 1), (-1, -2))  # (F..., i, o)
        yg = np.moveaxis((xg[..., None, :] @ wg)[..., 0, :], -1, lead)
        parts.append(yg)
    return planar_of(np.concatenate(parts, axis=lead), x.dtype)


def _freq_mix_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, FreqMixAttrs)
    return [freq_mix_reference(arr(xs[0]), arr(xs[1]), a.groups)]


register_op(
    OpDef(
        "freq_mix",
        ("x", "weight"),
        _freq_mix_infer,
        _freq_mix_ref,
        FreqMixAttrs,
        kind=OpKind.linalg,
        doc="Per-frequency complex channel mixing (grouped): the spectral form of a dense "
        "convolution and of FNO's spectral convolution.",
    )
)
