"""Direct convolution kernels: ONNX ``Conv`` as TE computes that fftc schedules itself.

Every convolution is computed as a *direct convolution over a source tensor*:

    tmp[n, m, o1..or] = sum_{c < Cg, k1..kr} src[n, g(m)*Cg + c, o1*s1 + k1*d1, ...]
                                             * wt(m, c, k1..kr)

with ``g(m) = m // Mg`` the group of output channel ``m`` (``Cg = C/groups``,
``Mg = M/groups``, depthwise: ``Cg = 1``).  ``src`` is the input with the ONNX
padding applied (``src[j] = x[j - pad_begin]``, zero outside), copied once by
the block ``conv.pad`` (O(input), where a bounds test per multiply-add would
stop vectorisation); no copy when nothing needs padding.  ConvTranspose
(:mod:`fftc.kernels.conv_transpose`) uses the same core.

Two internal layouts ("strategies") make the innermost loop a contiguous
vector of ``V`` lanes (``V = vector_bytes / itemsize`` of the accumulator):

* ``width``: vectorise along the last output dim.  ``tmp`` has the output
  layout with the last dim rounded up to ``Wt = ceil(Wo/V)*V`` (``src`` is
  widened with zeros to match); weights are broadcast scalars.  Works for any
  ``groups`` (depthwise in particular).
* ``channel``: vectorise along output channels.  The weights are repacked as
  ``wpack[g, b, c, k.., v] = wt(g*Mg + b*V + v, c, k..)`` (zero for
  ``b*V + v >= Mg``) by a PrimFunc of its own (block ``conv.wpack``), which
  Relax's FoldConstant evaluates at compile time for constant weights;
  ``tmp[n, g, b, o.., v]`` holds channel ``g*Mg + b*V + v``; inputs are
  broadcast scalars.  Best for dense convs with many output channels, strided
  last dims, and outputs narrower than a vector.

The block ``conv.out`` copies ``tmp`` to the ONNX NC[D]HW output, dropping the
rounding, adding the bias and casting back from the accumulation dtype
(fp32 for fp16 inputs).  Relax fuses elementwise consumers after it; the
schedule (``schedules/cpu/conv.py``) computes all of that at the conv's
register tile.  Every block is tagged ``{"fftc.kernel": kind}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fftc.codegen.tvm_api import relax, te, tirx, tvm
from fftc.ir.ops.conv import conv_out_dim
from fftc.schedules.base import KERNEL_ATTR, DefaultKnobs, Knob

# ConvTranspose is the same core with another source and weight (that module
# imports this one only inside its functions, so there is no import cycle)
from .conv_transpose import OutputMap, emit_conv_transpose

__all__ = ["emit_conv", "emit_conv_transpose"]

#: annotations of the ``conv`` block, read by its schedule template: the
#: internal layout, the vector lanes it is padded for, the spatial rank and
#: the input and output channels per group
STRATEGY_ATTR = "fftc.conv.strategy"
LANES_ATTR = "fftc.conv.lanes"
RANK_ATTR = "fftc.conv.rank"
CG_ATTR = "fftc.conv.cg"
MG_ATTR = "fftc.conv.mg"
#: annotation of a ``conv.pad`` block that stores its last dim deinterleaved
PHASES_ATTR = "fftc.conv.phases"
#: annotation of a ``conv.out`` block that rearranges (not just copies) ``tmp``
REARRANGED_ATTR = "fftc.conv.rearranged"

STRATEGY = Knob("conv.strategy", ("auto", "width", "channel"), "auto",
                "internal layout: vectorise along the output width or the output channels",
                stage="compute")  # fmt: skip
VECTOR_BYTES = Knob("conv.vector_bytes", (16, 32, 64), 64,
                    "bytes per vector register the internal layouts are padded for",
                    stage="compute")  # fmt: skip
COMPUTE_KNOBS = (STRATEGY, VECTOR_BYTES)
#: tiled dims without a divisor in ``TILE_RANGE`` are rounded up to a multiple of this
TILE_QUANTUM = 8
TILE_RANGE = range(4, 13)

Expr = Any  # a TIR expression (TVM objects are untyped for mypy)
#: ``weight_at(w, m, c, k)``: the weight of output channel ``m``, input channel
#: ``c`` of its group and tap ``k`` in the direct form, read from tensor ``w``
WeightFn = Callable[[te.Tensor, Expr, Expr, Sequence[Expr]], Expr]


def i64(value: int) -> Expr:
    """An int64 immediate: Relax shapes are int64 and TE iterators follow them."""
    return tirx.IntImm("int64", value)


@dataclass(frozen=True)
class DirectConv:
    """A convolution in the normal form described in the module docstring.

    ``src_begin``/``src_spread`` describe how ``src`` reads the input ``x``:
    ``src[j] = x[(j - begin) / spread]`` when that is an integer in range,
    else zero (``spread > 1`` only for transposed convolutions).
    """

    batch: int
    in_channels: int
    out_channels: int
    groups: int
    in_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    out_shape: tuple[int, ...]
    src_begin: tuple[int, ...]
    src_spread: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"channels {self.in_channels}->{self.out_channels} not divisible "
                f"by groups={self.groups}"
            )
        if min(self.out_shape) <= 0:
            raise ValueError(f"empty convolution output {self.out_shape}")

    @property
    def rank(self) -> int:
        return len(self.kernel)

    @property
    def cg(self) -> int:
        """Input channels per group."""
        return self.in_channels // self.groups

    @property
    def mg(self) -> int:
        """Output channels per group."""
        return self.out_channels // self.groups

    def src_extent(self, dim: int, out_extent: int) -> int:
        """Length of ``src`` along spatial ``dim`` to produce ``out_extent`` outputs."""
        return (
            (out_extent - 1) * self.strides[dim] + (self.kernel[dim] - 1) * self.dilations[dim] + 1
        )


def static_shape(expr: relax.Expr) -> tuple[int, ...]:
    """The static shape of a Relax tensor expression (fftc convs need one)."""
    shape = expr.ty.shape
    try:
        return tuple(int(v) for v in shape.values)
    except (AttributeError, TypeError) as err:
        raise ValueError(f"conv kernels need a static shape, got {shape}") from err


def accumulation_dtype(dtype: str) -> str:
    """fp16/bf16 products are accumulated in fp32, everything else in its own type."""
    return "float32" if dtype in ("float16", "bfloat16") else dtype


def vector_lanes(dtype: str, vector_bytes: int) -> int:
    """Lanes of ``dtype`` in a vector register of ``vector_bytes``."""
    return max(1, vector_bytes * 8 // int(tvm.DataType(dtype).bits))


def choose_strategy(conv: DirectConv, lanes: int, requested: str) -> str:
    """``width`` or ``channel`` (see the module docstring) for ``requested='auto'``.

    ``channel`` needs whole vectors of output channels per group and pays off
    when the input is reused across many output channels, when the last dim
    is strided (``width`` then reads a deinterleaved copy) or when it is too
    short to fill a vector.
    """
    if requested != "auto":
        return requested
    if conv.mg % lanes == 0 and (conv.cg > 1 or conv.strides[-1] > 1 or conv.out_shape[-1] < lanes):
        return "channel"
    return "width"


def tileable(extent: int) -> int:
    """``extent``, or rounded up to a multiple of ``TILE_QUANTUM`` if it has no divisor
    in ``TILE_RANGE`` (e.g. a prime), so the schedule can still cut it into register
    tiles of several rows or pixels without a partial tile; the extra outputs are
    computed on zero padding and dropped by ``conv.out``.
    """
    if extent <= TILE_RANGE.stop - 1 or any(extent % t == 0 for t in TILE_RANGE):
        return extent
    return -(-extent // TILE_QUANTUM) * TILE_QUANTUM


def _src_tensor(
    x: te.Tensor, conv: DirectConv, extents: Sequence[int], name: str, phases: int = 1
) -> te.Tensor:
    """``src`` of ``extents`` (block ``conv.pad``), or ``x`` itself when it already is one.

    With ``phases = s > 1`` the last dim is stored deinterleaved as
    ``[..., s, ceil(E/s)]``, element ``(p, j)`` holding position ``j*s + p``:
    a stride-``s`` conv then reads ``(o*s + k*d)`` at phase ``(k*d) % s``,
    offset ``o + (k*d) // s``, i.e. contiguously in ``o`` (see :func:`_src_read`).
    That is a second ``conv.pad`` block, a pure permutation of the first.
    """
    if phases > 1:
        groups = -(-extents[-1] // phases)
        plain = _src_tensor(x, conv, [*extents[:-1], groups * phases], name)

        def split(n: Expr, c: Expr, *j: Expr) -> Expr:
            return plain[(n, c, *j[:-2], j[-1] * phases + j[-2])]

        dims = [conv.batch, conv.in_channels, *extents[:-1], phases, groups]
        attrs = {KERNEL_ATTR: "conv.pad", PHASES_ATTR: phases}
        return te.compute([i64(e) for e in dims], split, name=f"{name}_phases", attrs=attrs)
    identity = all(b == 0 for b in conv.src_begin) and all(s == 1 for s in conv.src_spread)
    if identity and all(e <= i for e, i in zip(extents, conv.in_shape, strict=True)):
        return x
    zero = tirx.const(0, str(x.dtype))

    def body(n: Expr, c: Expr, *j: Expr) -> Expr:
        conds = []
        index = []
        for pos, begin, spread, size in zip(
            j, conv.src_begin, conv.src_spread, conv.in_shape, strict=True
        ):
            shifted = pos - begin
            if spread > 1:
                conds.append(tirx.floormod(shifted, spread) == 0)
                shifted = tirx.floordiv(shifted, spread)
            conds += [shifted >= 0, shifted < size]
            # clamped, so that a vectorised select never reads out of bounds
            index.append(tirx.max(tirx.min(shifted, size - 1), 0))
        return tirx.if_then_else(tirx.all(*conds), x[(n, c, *index)], zero)

    shape = [i64(conv.batch), i64(conv.in_channels), *(i64(e) for e in extents)]
    return te.compute(shape, body, name=name, attrs={KERNEL_ATTR: "conv.pad"})


def _src_read(
    src: te.Tensor,
    conv: DirectConv,
    n: Expr,
    channel: Expr,
    out: Sequence[Expr],
    taps: Sequence[Expr],
    phases: int = 1,
) -> Expr:
    """``src`` at spatial position ``o*s + k*d`` per dim (``phases``: see :func:`_src_tensor`)."""
    pos = [
        o * s + k * d for o, k, s, d in zip(out, taps, conv.strides, conv.dilations, strict=True)
    ]
    if phases > 1:
        shift = taps[-1] * conv.dilations[-1]
        pos[-1:] = [tirx.floormod(shift, phases), out[-1] + tirx.floordiv(shift, phases)]
    return src[(n, channel, *pos)]


def _reduce_axes(conv: DirectConv) -> tuple[Expr | None, list[Expr]]:
    channel = te.reduce_axis((i64(0), i64(conv.cg)), "rc") if conv.cg > 1 else None
    taps = [te.reduce_axis((i64(0), i64(k)), f"rk{i}") for i, k in enumerate(conv.kernel)]
    return channel, taps


def _conv_attrs(conv: DirectConv, strategy: str, lanes: int) -> dict[str, Any]:
    return {
        KERNEL_ATTR: "conv",
        STRATEGY_ATTR: strategy,
        LANES_ATTR: lanes,
        RANK_ATTR: conv.rank,
        CG_ATTR: conv.cg,
        MG_ATTR: conv.mg,
    }


def _width_conv(
    x: te.Tensor,
    w: te.Tensor,
    weight_at: WeightFn,
    conv: DirectConv,
    lanes: int,
    acc: str,
    name: str,
) -> Callable[[Expr, Expr, Sequence[Expr]], Expr]:
    """``tmp[n, m, o..]`` with the last dim rounded up to whole vectors.

    The row dim (second to last) is tiled: see :func:`tileable`.
    """
    wo = conv.out_shape[-1]
    wt_pad = -(-wo // lanes) * lanes
    rows = [tileable(conv.out_shape[-2])] if conv.rank > 1 else []
    out_shape = (*conv.out_shape[:-2], *rows, wt_pad)
    phases = conv.strides[-1]
    extents = [conv.src_extent(i, e) for i, e in enumerate(out_shape)]
    src = _src_tensor(x, conv, extents, f"{name}_pad", phases)
    rc, taps = _reduce_axes(conv)
    axes = ([rc] if rc is not None else []) + taps

    def body(n: Expr, m: Expr, *o: Expr) -> Expr:
        c_local = rc if rc is not None else i64(0)
        channel = tirx.floordiv(m, conv.mg) * conv.cg + c_local
        prod = _src_read(src, conv, n, channel, o, taps, phases).astype(acc) * weight_at(
            w, m, c_local, taps
        ).astype(acc)
        return te.sum(prod, axis=axes)

    shape = [i64(conv.batch), i64(conv.out_channels), *(i64(e) for e in out_shape)]
    attrs = _conv_attrs(conv, "width", lanes)
    tmp = te.compute(shape, body, name=name, attrs=attrs)
    return lambda n, m, o: tmp[(n, m, *o)]


def _pack_weights(w: te.Tensor, weight_at: WeightFn, conv: DirectConv, lanes: int) -> te.Tensor:
    """``wpack[g, b, c, k.., v] = weight_at(w, g*Mg + b*V + v, c, k..)``, zero past ``Mg``."""
    blocks = -(-conv.mg // lanes)

    def pack(g: Expr, b: Expr, c: Expr, *rest: Expr) -> Expr:
        *k, v = rest
        local = b * lanes + v
        if conv.mg % lanes == 0:
            return weight_at(w, g * conv.mg + local, c, k)
        m = g * conv.mg + tirx.min(local, conv.mg - 1)
        zero = tirx.const(0, str(w.dtype))
        return tirx.if_then_else(local < conv.mg, weight_at(w, m, c, k), zero)

    shape = [conv.groups, blocks, conv.cg, *conv.kernel, lanes]
    attrs = {KERNEL_ATTR: "conv.wpack"}
    return te.compute([i64(e) for e in shape], pack, name="conv_wpack", attrs=attrs)


def _channel_conv(
    x: te.Tensor, wpack: te.Tensor, conv: DirectConv, lanes: int, acc: str, name: str
) -> Callable[[Expr, Expr, Sequence[Expr]], Expr]:
    """``tmp[n, g, b, o.., v]`` holding output channel ``g*Mg + b*V + v``.

    The last output dim is the tiled one: see :func:`tileable`.
    """
    blocks = -(-conv.mg // lanes)
    out_shape = (*conv.out_shape[:-1], tileable(conv.out_shape[-1]))
    src = _src_tensor(
        x, conv, [conv.src_extent(i, e) for i, e in enumerate(out_shape)], f"{name}_pad"
    )
    rc, taps = _reduce_axes(conv)
    axes = ([rc] if rc is not None else []) + taps

    def body(n: Expr, g: Expr, b: Expr, *rest: Expr) -> Expr:
        *o, v = rest
        c_local = rc if rc is not None else i64(0)
        channel = g * conv.cg + c_local
        prod = _src_read(src, conv, n, channel, o, taps).astype(acc) * wpack[
            (g, b, c_local, *taps, v)
        ].astype(acc)
        return te.sum(prod, axis=axes)

    shape = [conv.batch, conv.groups, blocks, *out_shape, lanes]
    attrs = _conv_attrs(conv, "channel", lanes)
    tmp = te.compute([i64(e) for e in shape], body, name=name, attrs=attrs)

    def read(n: Expr, m: Expr, o: Sequence[Expr]) -> Expr:
        local = tirx.floormod(m, conv.mg)
        g = tirx.floordiv(m, conv.mg)
        return tmp[(n, g, tirx.floordiv(local, lanes), *o, tirx.floormod(local, lanes))]

    return read


def emit_direct_conv(
    bb: relax.BlockBuilder,
    x: relax.Expr,
    w: relax.Expr,
    b: relax.Expr | None,
    conv: DirectConv,
    weight_at: WeightFn,
    knobs: Mapping[str, int | str] | None,
    name: str,
    output: OutputMap | None = None,
) -> relax.Expr:
    """Emit a :class:`DirectConv`; returns the NC[D]HW output (rearranged by ``output``).

    The ``channel`` layout first emits its weight repacking as a PrimFunc of
    its own: Relax's FoldConstant runs it at compile time when ``w`` is a
    constant, so the packed copy costs nothing per inference.
    """
    source = DefaultKnobs(dict(knobs or {}))
    dtype = str(x.ty.dtype)
    acc = accumulation_dtype(dtype)
    lanes = vector_lanes(acc, int(source.get(VECTOR_BYTES)))
    strategy = choose_strategy(conv, lanes, str(source.get(STRATEGY)))
    if strategy == "channel":
        w = bb.emit_te(
            lambda wt: _pack_weights(wt, weight_at, conv, lanes),
            w,
            primfunc_name_hint=f"fftc_{name}_wpack",
        )

    def compute(xt: te.Tensor, wt: te.Tensor, *bias: te.Tensor) -> te.Tensor:
        if strategy == "channel":
            read = _channel_conv(xt, wt, conv, lanes, acc, name)
        else:
            read = _width_conv(xt, wt, weight_at, conv, lanes, acc, name)

        def out(n: Expr, m: Expr, *o: Expr) -> Expr:
            value = read(n, *output.index(m, o)) if output else read(n, m, o)
            if bias:
                value = value + bias[0][m].astype(acc)
            return value.astype(dtype)

        channels, spatial = (
            (output.channels, output.shape) if output else (conv.out_channels, conv.out_shape)
        )
        shape = [i64(conv.batch), i64(channels), *(i64(e) for e in spatial)]
        attrs: dict[str, Any] = {KERNEL_ATTR: "conv.out"}
        if output:
            attrs[REARRANGED_ATTR] = 1
        return te.compute(shape, out, name=f"{name}_out", attrs=attrs)

    args = [x, w] if b is None else [x, w, b]
    return bb.emit_te(compute, *args, primfunc_name_hint=f"fftc_{name}")


def conv_out_shape(
    in_shape: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
) -> tuple[int, ...]:
    """ONNX Conv's output spatial shape (the IR op's shape rule)."""
    rank = len(kernel)
    return tuple(
        conv_out_dim(in_shape[i], kernel[i], strides[i], dilations[i], pads[i], pads[i + rank])
        for i in range(rank)
    )


def check_conv_attrs(rank: int, **attrs: Sequence[int]) -> None:
    """Raise unless the spatial rank is 1-3 and each attribute has one value per dim."""
    for attr, values in attrs.items():
        expected = 2 * rank if attr == "pads" else rank
        if len(values) != expected:
            raise ValueError(f"{attr}={list(values)}: expected {expected} values")
    if rank not in (1, 2, 3):
        raise ValueError(f"conv kernels support 1-3 spatial dims, got {rank}")


def emit_conv(
    bb: relax.BlockBuilder,
    x: relax.Expr,
    w: relax.Expr,
    b: relax.Expr | None,
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
    knobs: Mapping[str, int | str] | None = None,
) -> relax.Expr:
    """Emit ONNX ``Conv`` (explicit ``pads``, NC[D]HW, weight ``(M, C/groups, k..)``)."""
    x_shape, w_shape = static_shape(x), static_shape(w)
    rank = len(x_shape) - 2
    check_conv_attrs(rank, strides=strides, pads=pads, dilations=dilations)
    if w_shape[1] * groups != x_shape[1]:
        raise ValueError(f"weight {w_shape} does not match input {x_shape} with groups={groups}")
    conv = DirectConv(
        batch=x_shape[0],
        in_channels=x_shape[1],
        out_channels=w_shape[0],
        groups=groups,
        in_shape=x_shape[2:],
        kernel=w_shape[2:],
        strides=tuple(strides),
        dilations=tuple(dilations),
        out_shape=conv_out_shape(x_shape[2:], w_shape[2:], strides, pads, dilations),
        src_begin=tuple(pads[:rank]),
        src_spread=(1,) * rank,
    )
    return emit_direct_conv(bb, x, w, b, conv, _conv_weight, knobs, "conv")


def _conv_weight(w: te.Tensor, m: Expr, c: Expr, k: Sequence[Expr]) -> Expr:
    """ONNX Conv weights are already in the direct form: ``w[m, c, k..]``."""
    return w[(m, c, *k)]
