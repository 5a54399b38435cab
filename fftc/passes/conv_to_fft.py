"""conv-to-fft: a depthwise convolution with a constant kernel becomes an FFT
convolution when the cost model says that is cheaper.

ONNX's Conv is a cross-correlation: ``y[t] = sum_j xpad[t*s + j] * wd[j]`` with
``wd`` the kernel dilated by ``d`` (length ``Ke = d*(K-1)+1``) and ``xpad`` the
input padded by ``pads``.  With ``N >= len(xpad)`` points, the circular
correlation ``irfft(rfft(xpad, N) * conj(rfft(wd, N)))`` equals the linear one
for every ``t <= len(xpad) - Ke`` (no index wraps).

1-D and 2-D: one ``fft_conv`` / ``fft_conv2d`` (the fused kernels) of the
unpadded input, with ``N`` per axis the smallest 2^a 3^b 5^c 7^d (even on the
last axis) ``>= len(x) + max(pad_begin, pad_end)`` (enough for no wrap onto a
nonzero input) and the spectrum of the dilated kernel wrapped onto ``N`` points,
conjugated and shifted by ``pad_begin`` per axis; the strides are the kernel's
output strides, the bias an epilogue fused into it.

3-D depthwise, and every dense or grouped convolution (unfused):

    pad(x, pads + zeros up to N) -> rfft (last spatial axis) -> fft (other axes)
    -> product with the constant spectrum conj(FFT(wd)) -> inverse FFTs
    -> slice [0 : (out-1)*s+1 : s] -> + bias

``N`` per axis is the smallest 2^a 3^b 5^c 7^d >= len(xpad) (fast mixed-radix
lengths).  The spectrum is computed at compile time in float64.  The product
is elementwise for a depthwise convolution and a per-frequency complex matrix
product over each group's channels (``freq_mix``) for a dense or grouped one:
by the convolution theorem ``y_o = sum_i x_i * w_oi`` becomes
``Y_o(f) = sum_i X_i(f) W_oi(f)``.

Pass option ``conv_fft``: ``"auto"`` (the cost model decides, default),
``"always"`` (every eligible convolution) or ``"never"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir import TensorType
from fftc.ir.ops.conv import ConvAttrs, conv_out_dim
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.mixing import FreqMixAttrs
from fftc.ir.ops.movement import ConcatAttrs, PadAttrs, ReshapeAttrs, SliceAttrs
from fftc.ir.ops.spectral import FFTConv2DAttrs, FFTConvAttrs
from fftc.kernels.fft.plan import next_smooth
from fftc.passes.rewrite import Match, RewritePass, RewriteRule

#: FFT lengths are products of these primes (fftc's FFT has radix kernels for them)
FAST_PRIMES = (2, 3, 5, 7)
MODES = ("auto", "always", "never")
#: cost model, in nanoseconds on the reference machine (2-core AVX-512 x86-64, measured
#: with ``python -m fftc.passes.conv_cost``; docs/benchmarks.md): fftc's direct
#: depthwise kernel per multiply-add, and the FFT convolution per FFT point and
#: channel, by rank (1-D, 2-D: the fused kernels, 2-D refitted to the fft_conv2d
#: kernel at 72x72 / 45x48 / 30x30: 0.9-1.1 ns; 3-D: the unfused chain)
DIRECT_NS_PER_MAC = {1: 0.016, 2: 0.005, 3: 0.005}
FFT_NS_PER_POINT = {1: 1.2, 2: 1.0, 3: 8.0}
#: dense and grouped convolutions (``python -m fftc.passes.conv_cost --dense``, quiet
#: 2-core Zen 5): fftc's direct kernel per multiply-add (0.0041-0.0045 measured dense;
#: grouped ones run smaller GEMMs: 0.0094 at 4 groups of 16), the unfused FFT chain per
#: point of each transformed channel (forward or inverse), and the per-frequency mixing
#: per complex multiply-add (it streams the weight spectrum)
DENSE_NS_PER_MAC = {1: 0.0045, 2: 0.0045, 3: 0.0045}
GROUPED_FACTOR = 2.1
CHAIN_NS_PER_POINT = 5.0
MIX_NS_PER_CMAC = 0.25


@dataclass(frozen=True)
class FFTConvPlan:
    """The shapes of one FFT convolution and the two costs the choice compares."""

    padded: tuple[int, ...]  # spatial extents after ONNX's pads
    lengths: tuple[int, ...]  # FFT lengths per spatial axis
    out: tuple[int, ...]
    direct_cost: float  # estimated milliseconds
    fft_cost: float
    mixing: bool = False  # dense or grouped: a per-frequency channel mixing

    @property
    def fft_cheaper(self) -> bool:
        return self.fft_cost < self.direct_cost


def plan_fft_conv(x: TensorType, w: TensorType, a: ConvAttrs) -> FFTConvPlan:
    rank = x.rank - 2
    kernel = w.shape[2:]
    mixing = not is_depthwise(x, w, a)
    padded = tuple(x.shape[2 + i] + a.pads[i] + a.pads[rank + i] for i in range(rank))
    out = tuple(
        conv_out_dim(x.shape[2 + i], kernel[i], a.strides[i], a.dilations[i], a.pads[i],
                     a.pads[rank + i])
        for i in range(rank)
    )  # fmt: skip
    if rank in (1, 2) and not mixing:  # fused kernels: no explicit padding, the last length even
        need = [
            max(x.shape[2 + i] + max(a.pads[i], a.pads[rank + i]), (out[i] - 1) * a.strides[i] + 1)
            for i in range(rank)
        ]
        lengths: tuple[int, ...] = (
            *(next_smooth(n, FAST_PRIMES) for n in need[:-1]),
            2 * next_smooth((need[-1] + 1) // 2, FAST_PRIMES),
        )
    else:
        lengths = tuple(next_smooth(p, FAST_PRIMES) for p in padded)
    batch, c_out = x.shape[0], w.shape[0]
    macs = batch * c_out * math.prod(out) * math.prod(kernel) * w.shape[1]
    if not mixing:
        direct = macs * DIRECT_NS_PER_MAC[rank] * 1e-6
        fft = batch * c_out * math.prod(lengths) * FFT_NS_PER_POINT[rank] * 1e-6
        return FFTConvPlan(padded, lengths, out, float(direct), float(fft))
    bins = math.prod(lengths[:-1]) * (lengths[-1] // 2 + 1)
    transforms = batch * (x.shape[1] + c_out) * math.prod(lengths) * CHAIN_NS_PER_POINT
    mix = batch * c_out * w.shape[1] * bins * MIX_NS_PER_CMAC
    per_mac = DENSE_NS_PER_MAC[rank] * (1.0 if a.groups == 1 else GROUPED_FACTOR)
    direct = macs * per_mac * 1e-6
    return FFTConvPlan(padded, lengths, out, float(direct), float((transforms + mix) * 1e-6), True)


def is_depthwise(x: TensorType, w: TensorType, a: ConvAttrs) -> bool:
    """One kernel per channel (``groups == C == C_out``, one input channel each)."""
    return a.groups == x.shape[1] == w.shape[0] and w.shape[1] == 1


def _mode(m: Match) -> str:
    mode = str(m.options.get("conv_fft", "auto"))
    return mode if mode in MODES else "auto"


def _plan(m: Match) -> FFTConvPlan:
    """The plan of the matched conv node (its input, weight and attributes)."""
    n = m.node
    assert isinstance(n.attrs, ConvAttrs)
    return plan_fft_conv(m.b.type_of(n.inputs[0] or ""), m.b.type_of(n.inputs[1] or ""), n.attrs)


def _check(m: Match) -> str | None:
    n = m.node
    assert isinstance(n.attrs, ConvAttrs)
    if _mode(m) == "never":
        return "FFT convolution disabled (conv_fft=never)"
    x, w = m.b.type_of(n.inputs[0] or ""), m.b.type_of(n.inputs[1] or "")
    if m.b.const_value(n.inputs[1]) is None:
        why = _runtime_refusal(x, w, n.attrs)
        if why is not None:
            return why
    if x.dtype.value not in ("float32", "float64"):
        return f"{x.dtype.value} FFT convolution is not implemented (float32/float64 only)"
    if x.rank - 2 not in (1, 2, 3):
        return f"{x.rank - 2}-D convolution"
    p = _plan(m)
    if _mode(m) == "auto" and not p.fft_cheaper:
        return f"direct is cheaper (est. {p.direct_cost:.3g} ms vs FFT {p.fft_cost:.3g} ms)"
    return None


def _runtime_refusal(x: TensorType, w: TensorType, a: ConvAttrs) -> str | None:
    """Why a kernel computed at run time cannot be transformed in the graph (None: it can)."""
    if x.rank - 2 not in (1, 2) or not is_depthwise(x, w, a):
        return "the kernel is computed at run time (transformed in the graph: 1-D/2-D depthwise)"
    if any(d != 1 for d in a.dilations):
        return "dilated kernel computed at run time"
    lengths = plan_fft_conv(x, w, a).lengths
    if any(k > n for k, n in zip(w.shape[2:], lengths, strict=True)):
        return f"kernel computed at run time is longer than the FFT lengths {list(lengths)}"
    return None


def _why(m: Match) -> str:
    p = _plan(m)
    forced = " (conv_fft=always)" if _mode(m) == "always" else ""
    how = "per-frequency channel mixing, " if p.mixing else ""
    if m.b.const_value(m.node.inputs[1]) is None:
        how += "kernel transformed in the graph, "
    return (
        f"{how}FFT lengths {list(p.lengths)}; est. {p.fft_cost:.3g} ms vs direct "
        f"{p.direct_cost:.3g} ms{forced}"
    )


def kernel_spectrum(w: np.ndarray, dilations: Sequence[int], lengths: Sequence[int]) -> np.ndarray:
    """conj(FFT(dilated w)) over the spatial axes, one-sided on the last, complex128:
    ``(C_out, C_in/groups, *lengths[:-1], lengths[-1]//2+1)``."""
    rank = w.ndim - 2
    dilated = (d * (k - 1) + 1 for d, k in zip(dilations, w.shape[2:], strict=True))
    wd = np.zeros((*w.shape[:2], *dilated))
    wd[(slice(None), slice(None), *(slice(None, None, d) for d in dilations))] = w
    return np.conj(np.fft.rfftn(wd, s=tuple(lengths), axes=range(2, rank + 2)))


def spectrum_for_kernel(weights: np.ndarray, length: int, shift: int = 0) -> np.ndarray:
    """``conj(rfft(w, length)) * exp(-2*pi*i*k*shift/length)`` as ``(..., length//2+1, 2)``:
    the spectrum that makes ``fft_conv`` a cross-correlation with ``w`` whose
    output ``t`` is the correlation at ``t - shift`` (float64)."""
    spec = np.conj(np.fft.rfft(weights.astype(np.float64), n=length, axis=-1))
    k = np.arange(length // 2 + 1)
    spec = spec * np.exp(-2j * np.pi * k * shift / length)
    return np.stack([spec.real, spec.imag], axis=-1)


def wrapped_spectrum(w: np.ndarray, dilation: int, length: int, shift: int) -> np.ndarray:
    """The ``fft_conv`` spectrum of a 1-D depthwise kernel ``w`` ``(C, 1, K)``: the
    dilated kernel wrapped onto ``length`` points (the circular correlation is
    exact for it), conjugated (a correlation), and shifted by ``shift`` (the left
    padding: output ``t`` is correlation index ``t - shift``), float64."""
    return wrapped_spectrum_nd(w, (dilation,), (length,), (shift,))


def wrapped_spectrum_nd(
    w: np.ndarray, dilations: Sequence[int], lengths: Sequence[int], shifts: Sequence[int]
) -> np.ndarray:
    """:func:`wrapped_spectrum` over every spatial axis of ``w`` ``(C, 1, *K)``:
    ``(C, *lengths[:-1], lengths[-1]//2 + 1, 2)``, onesided on the last axis."""
    rank = w.ndim - 2
    wrapped = np.zeros((w.shape[0], *lengths))
    for taps in np.ndindex(*w.shape[2:]):
        at = tuple(t * d % n for t, d, n in zip(taps, dilations, lengths, strict=True))
        wrapped[(slice(None), *at)] += w[(slice(None), 0, *taps)].astype(np.float64)
    spec = np.conj(np.fft.rfftn(wrapped, s=tuple(lengths), axes=range(1, rank + 1)))
    for axis, (n, shift) in enumerate(zip(lengths, shifts, strict=True)):
        k = np.arange(spec.shape[1 + axis])
        phase = np.exp(-2j * np.pi * k * shift / n)
        spec = spec * phase.reshape((-1,) + (1,) * (rank - 1 - axis))
    return np.stack([spec.real, spec.imag], axis=-1)


def _rewrite_fused(m: Match, p: FFTConvPlan) -> Sequence[str]:
    """1-D and 2-D: one ``fft_conv`` / ``fft_conv2d`` of the unpadded input."""
    n, b = m.node, m.b
    a = n.attrs
    assert isinstance(a, ConvAttrs)
    xname, wname = n.inputs[0] or "", n.inputs[1] or ""
    weights = b.const_value(wname)
    rank = len(p.lengths)
    dtype = b.type_of(xname).dtype.numpy()
    if weights is None:
        k = _runtime_spectrum(m, p)
    else:
        spec = wrapped_spectrum_nd(weights, a.dilations, p.lengths, a.pads[:rank])
        k = b.constant(spec.astype(dtype), f"{n.name}_spectrum")
    if rank == 1:
        y = b.node1("fft_conv", [xname, k], FFTConvAttrs(p.lengths[0], p.out[0], a.strides[0]),
                    name=n.name)  # fmt: skip
    else:
        (nh, nw), (oh, ow), (sh, sw) = p.lengths, p.out, a.strides
        attrs = FFTConv2DAttrs((nh, nw), (oh, ow), (sh, sw))
        y = b.node1("fft_conv2d", [xname, k], attrs, name=n.name)
    return [_add_bias(m, y, rank)]


def _runtime_spectrum(m: Match, p: FFTConvPlan) -> str:
    """The ``wrapped_spectrum_nd`` of a depthwise kernel computed at run time (no
    dilation, no longer than the FFT), as graph ops: zero pad to the lengths, a
    one-sided DFT on the last axis and full ones on the others, then the
    conjugate times the constant phase of the left padding."""
    n, b = m.node, m.b
    a = n.attrs
    assert isinstance(a, ConvAttrs)
    w = n.inputs[1] or ""
    wt = b.type_of(w)
    c, kernel, rank = wt.shape[0], wt.shape[2:], len(p.lengths)
    dtype = wt.dtype.numpy()
    h = b.node1("reshape", [w], ReshapeAttrs((c, *kernel)), name=n.name)
    ends = tuple(length - k for length, k in zip(p.lengths, kernel, strict=True))
    h = b.node1("pad", [h], PadAttrs((0,) * (rank + 1) + (0, *ends)), name=n.name)
    h = b.node1("reshape", [h], ReshapeAttrs((c, *p.lengths, 1)), name=n.name)
    h = b.node1("dft", [h], DFTAttrs(rank, p.lengths[-1], onesided=True), name=n.name)
    for axis in range(1, rank):
        h = b.node1("dft", [h], DFTAttrs(axis, p.lengths[axis - 1]), name=n.name)
    conj = b.constant(np.asarray([1.0, -1.0], dtype), f"{n.name}_conj")
    h = b.node1("mul", [h, conj], name=n.name)
    if not any(a.pads[:rank]):
        return h
    phase = np.ones((), complex)
    for axis, (length, shift) in enumerate(zip(p.lengths, a.pads[:rank], strict=True)):
        bins = length // 2 + 1 if axis == rank - 1 else length
        phase = np.multiply.outer(phase, np.exp(-2j * np.pi * np.arange(bins) * shift / length))
    planes = np.stack([phase.real, phase.imag], axis=-1).astype(dtype)
    return b.node1("cmul", [h, b.constant(planes, f"{n.name}_phase")], name=n.name)


def _add_bias(m: Match, y: str, rank: int) -> str:
    n, b = m.node, m.b
    if len(n.inputs) < 3 or n.inputs[2] is None:
        return y
    c_out = b.type_of(n.inputs[1] or "").shape[0]
    bias = b.node1("reshape", [n.inputs[2]], ReshapeAttrs((c_out, *(1,) * rank)), name=n.name)
    return b.node1("add", [y, bias], name=n.name)


def _rewrite(m: Match) -> Sequence[str]:
    n, b = m.node, m.b
    a = n.attrs
    assert isinstance(a, ConvAttrs)
    xname, wname = n.inputs[0] or "", n.inputs[1] or ""
    x = b.type_of(xname)
    rank, p = x.rank - 2, _plan(m)
    if rank in (1, 2) and not p.mixing:
        return _rewrite_fused(m, p)
    weights = b.const_value(wname)
    assert weights is not None
    batch, c = x.shape[:2]
    dtype = x.dtype.numpy()
    name = n.name

    ends = [a.pads[rank + i] + p.lengths[i] - p.padded[i] for i in range(rank)]
    xp = b.node1("pad", [xname], PadAttrs((0, 0, *a.pads[:rank], 0, 0, *ends)), name=name)
    h = b.node1("reshape", [xp], ReshapeAttrs((batch, c, *p.lengths, 1)), name=name)
    last = 2 + rank - 1
    h = b.node1("dft", [h], DFTAttrs(last, p.lengths[-1], onesided=True), name=name)
    for i in reversed(range(rank - 1)):
        h = b.node1("dft", [h], DFTAttrs(2 + i, p.lengths[i]), name=name)

    spec = kernel_spectrum(weights, a.dilations, p.lengths)
    if p.mixing:  # planar (C_out, C_in/groups, 2, *F)
        planes = np.stack([spec.real, spec.imag], axis=2).astype(dtype)
        k = b.constant(planes, f"{name}_spectrum")
        h = b.node1("freq_mix", [h, k], FreqMixAttrs(a.groups), name=name)
    else:
        h = _depthwise_product(m, h, np.stack([spec.real, spec.imag], axis=-1)[:, 0], dtype)

    c = b.type_of(h).shape[1]
    for i in range(rank - 1):
        h = b.node1("dft", [h], DFTAttrs(2 + i, p.lengths[i], inverse=True), name=name)
    h = b.node1("dft", [h], DFTAttrs(last, p.lengths[-1], inverse=True, onesided=True), name=name)
    starts = (0,) * (rank + 3)
    stops = (batch, c, *((o - 1) * s + 1 for o, s in zip(p.out, a.strides, strict=True)), 1)
    steps = (1, 1, *a.strides, 1)
    h = b.node1("slice", [h], SliceAttrs(starts, stops, steps), name=name)
    y = b.node1("reshape", [h], ReshapeAttrs((batch, c, *p.out)), name=name)
    return [_add_bias(m, y, rank)]


def _depthwise_product(m: Match, h: str, spec: np.ndarray, dtype: np.dtype) -> str:
    """``h * spec`` (complex, per channel) as real multiplies and adds."""
    b, name = m.b, m.node.name
    same = np.concatenate([spec[..., :1], spec[..., :1]], axis=-1).astype(dtype)
    cross = np.concatenate([-spec[..., 1:], spec[..., 1:]], axis=-1).astype(dtype)
    full = b.type_of(h).shape
    ndim = len(full)
    re = b.node1("slice", [h], _last_slice(full, 0), name=name)
    im = b.node1("slice", [h], _last_slice(full, 1), name=name)
    swapped = b.node1("concat", [im, re], ConcatAttrs(ndim - 1), name=name)
    h = b.node1("mul", [h, b.constant(same, f"{name}_spectrum_re")], name=name)
    cross_term = b.node1("mul", [swapped, b.constant(cross, f"{name}_spectrum_im")], name=name)
    return b.node1("add", [h, cross_term], name=name)


def _last_slice(shape: tuple[int, ...], k: int) -> SliceAttrs:
    return SliceAttrs((0,) * (len(shape) - 1) + (k,), (*shape[:-1], k + 1), (1,) * len(shape))


CONV_TO_FFT = RewritePass(
    "conv-to-fft",
    "depthwise convolutions with constant kernels become FFT convolutions where cheaper",
    (RewriteRule("conv => fft conv", ("conv",), _check, _rewrite, explain=True, why=_why),),
    ensures=frozenset({"fft-conv"}),
    max_sweeps=1,
)
