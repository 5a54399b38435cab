"""ONNX ``ConvTranspose`` as a direct convolution (the core of :mod:`fftc.kernels.conv`).

ONNX defines, per spatial dim (stride ``s``, dilation ``d``, kernel ``K``,
pads ``pb``/``pe``, output padding ``op``)::

    y[n, m, o] = sum_{c in group(m), k : o + pb = i*s + k*d} x[n, c, i] * w[c, m % Mg, k]
    len(y) = s*(len(x) - 1) + op + (K - 1)*d + 1 - pb - pe

**Sub-pixel form** (used when some ``s > 1`` and all ``d = 1``).  Write
``t = o + pb = q*s + r``; the taps hitting ``t`` are ``k = r + j*s`` with
``i = q - j``, so each output phase ``r`` is a stride-1 convolution of ``x``
with ``J = ceil(K/s)`` taps::

    y[q*s + r - pb] = sum_{j < J} x[q - j] * w[c, m % Mg, r + j*s]   (0 when r + j*s >= K)

All ``S = prod(s)`` phases together are one direct conv with ``M*S`` output
channels (channel ``m*S + r``), flipped taps ``j' = J-1-j`` reading
``src[u + j'] = x[u + q0 - (J-1) + j']`` for ``u = q - q0``, ``q0 = pb // s``;
the ``conv.out`` block interleaves the phases back (a pixel shuffle).  No
multiply hits an inserted zero.

**Zero-spread form** (any dilation).  Substituting ``k = K-1-k'`` gives a
stride-1 convolution with dilation ``d`` of the flipped weight over a source
in which the input samples sit ``s`` apart::

    y[o] = sum_{k'} src[o + k'*d] * w[g*Cg + c, m % Mg, K-1-k']
    src[j] = x[(j - P) / s]  when (j - P) is a multiple of s and in range, else 0
    P = (K-1)*d - pb

(``src[o + k'*d]`` hits ``x[i]`` exactly when ``o + pb = i*s + k*d``).  ``P``
may be negative (large ``pb``): ``src`` then starts inside the input.  ``src``
is built by the core's ``conv.pad`` block; the multiplies by the inserted zeros
(a factor ``s`` per dim) are the price, so this form is only the fallback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fftc.codegen.tvm_api import relax, te, tirx
from fftc.ir.ops.conv import conv_transpose_out_dim


@dataclass(frozen=True)
class OutputMap:
    """An output that is a rearrangement of the direct conv's (ConvTranspose's pixel shuffle).

    ``index(m, o)`` gives the direct-conv channel and position that output
    channel ``m``, position ``o`` (of ``channels`` x ``shape``) reads.
    """

    channels: int
    shape: tuple[int, ...]
    index: Callable[[Any, Sequence[Any]], tuple[Any, Sequence[Any]]]


def conv_transpose_out_shape(
    in_shape: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    output_padding: Sequence[int],
) -> tuple[int, ...]:
    """ONNX ConvTranspose's output spatial shape (the IR op's shape rule)."""
    rank = len(kernel)
    return tuple(
        conv_transpose_out_dim(
            in_shape[i],
            kernel[i],
            strides[i],
            dilations[i],
            pads[i],
            pads[i + rank],
            output_padding[i],
        )
        for i in range(rank)
    )


def emit_conv_transpose(
    bb: relax.BlockBuilder,
    x: relax.Expr,
    w: relax.Expr,
    b: relax.Expr | None,
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
    output_padding: Sequence[int],
    knobs: Mapping[str, int | str] | None = None,
) -> relax.Expr:
    """Emit ONNX ``ConvTranspose`` (explicit ``pads``, weight ``(C, M/groups, k..)``)."""
    # imported here: fftc.kernels.conv re-exports this function
    from .conv import check_conv_attrs, emit_direct_conv, static_shape

    x_shape, w_shape = static_shape(x), static_shape(w)
    rank = len(x_shape) - 2
    check_conv_attrs(
        rank, strides=strides, pads=pads, dilations=dilations, output_padding=output_padding
    )
    if w_shape[0] != x_shape[1]:
        raise ValueError(f"weight {w_shape} does not match input {x_shape}")
    out_shape = conv_transpose_out_shape(
        x_shape[2:], w_shape[2:], strides, pads, dilations, output_padding
    )
    form = _sub_pixel_form if max(strides) > 1 and max(dilations) == 1 else _zero_spread_form
    conv, weight_at, output = form(x_shape, w_shape, strides, pads, dilations, groups, out_shape)
    return emit_direct_conv(bb, x, w, b, conv, weight_at, knobs, "conv_transpose", output)


def _zero_spread_form(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
    out_shape: tuple[int, ...],
) -> tuple[Any, Any, Any]:
    """The zero-spread form of the module docstring (any stride and dilation)."""
    from .conv import DirectConv

    rank = len(x_shape) - 2
    kernel = tuple(w_shape[2:])
    conv = DirectConv(
        batch=x_shape[0],
        in_channels=x_shape[1],
        out_channels=w_shape[1] * groups,
        groups=groups,
        in_shape=tuple(x_shape[2:]),
        kernel=kernel,
        strides=(1,) * rank,
        dilations=tuple(dilations),
        out_shape=out_shape,
        src_begin=tuple((kernel[i] - 1) * dilations[i] - pads[i] for i in range(rank)),
        src_spread=tuple(strides),
    )
    cg, mg = conv.cg, conv.mg

    def weight_at(wt: te.Tensor, m: Any, c: Any, k: Sequence[Any]) -> Any:
        """``wt[m, c, k'] = w[g*Cg + c, m % Mg, K-1-k']`` with ``g = m // Mg``."""
        flipped = [kernel[i] - 1 - k[i] for i in range(rank)]
        return wt[(tirx.floordiv(m, mg) * cg + c, tirx.floormod(m, mg), *flipped)]

    return conv, weight_at, None


def _sub_pixel_form(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
    out_shape: tuple[int, ...],
) -> tuple[Any, Any, Any]:
    """The sub-pixel form of the module docstring (dilation 1)."""
    from .conv import DirectConv

    rank = len(x_shape) - 2
    kernel = tuple(w_shape[2:])
    taps = tuple(-(-kernel[i] // strides[i]) for i in range(rank))  # J = ceil(K/s)
    first = tuple(pads[i] // strides[i] for i in range(rank))  # q0
    phases = math.prod(strides)
    mg = w_shape[1]
    cg = x_shape[1] // groups
    conv = DirectConv(
        batch=x_shape[0],
        in_channels=x_shape[1],
        out_channels=mg * phases * groups,
        groups=groups,
        in_shape=tuple(x_shape[2:]),
        kernel=taps,
        strides=(1,) * rank,
        dilations=(1,) * rank,
        out_shape=tuple(
            (pads[i] + out_shape[i] - 1) // strides[i] - first[i] + 1 for i in range(rank)
        ),
        src_begin=tuple(taps[i] - 1 - first[i] for i in range(rank)),
        src_spread=(1,) * rank,
    )

    def weight_at(wt: te.Tensor, m: Any, c: Any, j: Sequence[Any]) -> Any:
        """Channel ``m = g*Mg*S + m_local*S + r``, tap ``j'``: ``w[.., r + (J-1-j')*s]``."""
        local = tirx.floormod(m, mg * phases)
        phase = _unflatten(tirx.floormod(local, phases), strides)
        k = [phase[i] + (taps[i] - 1 - j[i]) * strides[i] for i in range(rank)]
        inside = tirx.all(*[k[i] < kernel[i] for i in range(rank)])
        index = [tirx.min(k[i], kernel[i] - 1) for i in range(rank)]
        channel = tirx.floordiv(m, mg * phases) * cg + c
        value = wt[(channel, tirx.floordiv(local, phases), *index)]
        return tirx.if_then_else(inside, value, tirx.const(0, str(wt.dtype)))

    def index(m: Any, o: Sequence[Any]) -> tuple[Any, list[Any]]:
        """Output ``o`` is phase ``(o + pb) % s`` of sub-pixel row ``(o + pb) // s - q0``."""
        shifted = [o[i] + pads[i] for i in range(rank)]
        phase = [tirx.floormod(shifted[i], strides[i]) for i in range(rank)]
        channel = m * phases + _flatten(phase, strides)  # = (g*Mg + m_local)*S + r
        return channel, [tirx.floordiv(shifted[i], strides[i]) - first[i] for i in range(rank)]

    output = OutputMap(channels=mg * groups, shape=out_shape, index=index)
    return conv, weight_at, output


def _flatten(index: Sequence[Any], extents: Sequence[int]) -> Any:
    flat = index[0]
    for i in range(1, len(index)):
        flat = flat * extents[i] + index[i]
    return flat


def _unflatten(flat: Any, extents: Sequence[int]) -> list[Any]:
    index = []
    for extent in reversed(extents):
        index.append(tirx.floormod(flat, extent))
        flat = tirx.floordiv(flat, extent)
    return index[::-1]
