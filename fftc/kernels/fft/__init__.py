"""fftc's DFT kernel: an O(n log n) FFT for every length, as TE computes.

:func:`emit_dft` lowers one ONNX-style ``DFT`` (complex numbers as a trailing
dimension of 2, real inputs with a trailing 1) into a single PrimFunc:

* a complex core FFT (:mod:`.plan` chooses): mixed-radix Stockham stages
  (:mod:`.stockham`, butterflies from :mod:`.butterfly`), or Bluestein's
  chirp-z convolution around two of them (:mod:`.bluestein`) for lengths
  with a large prime factor;
* real-input transforms through the half-length trick or the Hermitian
  extension (:mod:`.realfft`);
* the first stage reads the caller's layout directly, and one output block
  (tag ``fft.post``) writes it, applying the norm's scale (:mod:`.layout`).

Every block is tagged ``{"fftc.kernel": KIND}`` with ``KIND`` one of
``fft.stage`` (a butterfly stage), ``fft.pack`` (a source computed ahead of
the first stage) and ``fft.post``; the CPU schedules are in
``schedules/cpu/fft.py``.  All twiddles, chirps and filter spectra are
NumPy-precomputed constants passed in as ``relax.const``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fftc.codegen.tvm_api import relax, te, tirx
from fftc.schedules.base import KERNEL_ATTR, KnobValue

from .bluestein import build_core, core_tables
from .butterfly import Cx, LetScope, PrimExpr
from .layout import AxisLayout
from .plan import COMPUTE_KNOBS, DFTPlan, plan_dft
from .realfft import (
    hermitian_source,
    irfft_result,
    irfft_source,
    irfft_table,
    packed_real_source,
    real_signal_result,
    rfft_result,
    rfft_table,
)
from .stockham import Source, materialize

__all__ = [
    "AXIS_ATTR",
    "COMPUTE_KNOBS",
    "PAIRS_ATTR",
    "POST_TAG",
    "DFTPlan",
    "emit_dft",
    "plan_dft",
    "plan_tables",
]

#: the output block's tag
POST_TAG = "fft.post"
#: output block annotations: the transformed axis, and whether its points come in
#: (even, odd) pairs from one complex value (the half-length irfft)
AXIS_ATTR = "fftc.fft.axis"
PAIRS_ATTR = "fftc.fft.pairs"


def plan_tables(plan: DFTPlan) -> dict[str, np.ndarray]:
    """Every constant table of ``plan``, by name, in float64 planar form."""
    tables = core_tables(plan.core, plan.sign, "core")
    if plan.method == "real-half":
        tables["real"] = irfft_table(plan.length) if plan.inverse else rfft_table(plan.length)
    return tables


def emit_dft(
    bb: relax.BlockBuilder,
    x: relax.Expr,
    *,
    axis: int,
    length: int,
    inverse: bool,
    onesided: bool,
    norm: str = "backward",
    knobs: Mapping[str, KnobValue] | None = None,
    factors: Sequence[int] = (),
) -> relax.Expr:
    """Emit the DFT of ``x`` along ``axis`` (ONNX ``DFT`` semantics) into ``bb``.

    ``x`` has a static shape ``(d0, ..., d_{r-2}, c)`` with ``c`` 1 (real)
    or 2 (complex) and extent ``length`` along ``axis`` (``length // 2 + 1``
    for an inverse onesided transform).  Returns the result: complex
    (``c = 2``) with extent ``length`` (``length // 2 + 1`` for a forward
    onesided transform), or real with extent ``length`` for an inverse
    onesided one (``numpy.fft.irfft``).  ``factors``: the core FFT's radices (the
    ``dft`` op's attribute; ``()``: :mod:`.plan` chooses from ``knobs``).
    """
    tensor_type = x.ty
    try:
        shape = tuple(int(d) for d in tensor_type.shape)
    except TypeError as err:
        raise ValueError(f"dft needs a static input shape, got {tensor_type}") from err
    dtype = str(tensor_type.dtype)
    layout = _check(shape, axis, length, inverse, onesided)
    plan = plan_dft(
        length,
        inverse=inverse,
        onesided=onesided,
        real_input=not layout.complex,
        norm=norm,
        knobs=knobs,
        factors=factors,
    )
    tables = plan_tables(plan)
    names = list(tables)
    consts = [relax.const(tables[name].astype(dtype), dtype) for name in names]

    def kernel(data: te.Tensor, *table_tensors: te.Tensor) -> te.Tensor:
        return _build(plan, layout, data, dict(zip(names, table_tensors, strict=True)), dtype)

    y = bb.emit_te(kernel, x, *consts, primfunc_name_hint=f"{plan.kind}{plan.length}")
    return _keep_unfused(bb, y)


#: TVM's relax OpPatternKind for "fuse nothing into this kernel" (kOpaque)
_OPAQUE = 8


def _keep_unfused(bb: relax.BlockBuilder, y: relax.Var) -> relax.Var:
    """Mark the FFT's PrimFunc opaque so FuseOps keeps it a kernel of its own.

    Fused into its neighbours, the FFT's stages end up in one PrimFunc with the
    surrounding elementwise blocks, and the schedule templates (one FFT per
    PrimFunc) no longer apply: measured 10-20x slower."""
    return with_op_pattern(bb, y, _OPAQUE)


def with_op_pattern(bb: relax.BlockBuilder, y: relax.Var, pattern: int) -> relax.Var:
    """Set the Relax fusion pattern (``OpPatternKind``) of the PrimFunc ``y`` calls."""
    gvar = bb.lookup_binding(y).args[0]
    bb.update_func(gvar, bb.get()[gvar].with_attr("op_pattern", pattern))
    return y


def _check(
    shape: tuple[int, ...], axis: int, length: int, inverse: bool, onesided: bool
) -> AxisLayout:
    if len(shape) < 2 or shape[-1] not in (1, 2):
        raise ValueError(f"dft input must be (..., n, ..., c) with c in (1, 2), got {shape}")
    if not 0 <= axis < len(shape) - 1:
        raise ValueError(f"dft axis {axis} out of range for shape {shape}")
    expected = length // 2 + 1 if inverse and onesided else length
    if shape[axis] != expected:
        raise ValueError(f"dft input extent {shape[axis]} along axis {axis}, expected {expected}")
    if onesided and not inverse and shape[-1] != 1:
        raise ValueError("a forward onesided dft needs a real input (c == 1)")
    if onesided and inverse and shape[-1] != 2:
        raise ValueError("an inverse onesided dft needs a complex input (c == 2)")
    return AxisLayout(shape, axis)


def _build(
    plan: DFTPlan,
    layout: AxisLayout,
    data: te.Tensor,
    tables: Mapping[str, te.Tensor],
    dtype: str,
) -> te.Tensor:
    """The TE graph: source -> core FFT -> result, then the output block."""
    n = plan.length
    read = layout.source(data)
    source: Source = read
    if plan.method == "real-half" and plan.inverse:
        source = irfft_source(read, n // 2, tables["real"], dtype)
        source = materialize(source, layout.batch, n // 2, dtype, "irfft_pre")
    elif plan.method == "real-half":
        source = packed_real_source(read)
    elif plan.inverse and plan.onesided:
        source = materialize(hermitian_source(read, n, dtype), layout.batch, n, dtype, "irfft_pre")
    result = build_core(plan.core, source, layout.batch, plan.sign, tables, dtype, "core")
    if plan.method == "real-half" and plan.inverse:
        result = irfft_result(result)
    elif plan.method == "real-half":
        result = rfft_result(result, n // 2, tables["real"])
    elif plan.real_input and not plan.inverse:
        result = real_signal_result(result, n, dtype)
    real_output = plan.inverse and plan.onesided
    out_length = n // 2 + 1 if plan.onesided and not plan.inverse else n
    out_layout = layout.with_length(out_length, 1 if real_output else 2)
    pairs = plan.method == "real-half" and plan.inverse
    return _output(result, out_layout, plan.scale, pairs, dtype)


def _output(result: Source, layout: AxisLayout, scale: float, pairs: bool, dtype: str) -> te.Tensor:
    """The output block: ``out[..., k, ..., c] = scale * result(b, k)[c]``."""

    def scaled(value: PrimExpr | None) -> PrimExpr:
        if value is None:
            return tirx.const(0.0, dtype)
        return value if scale == 1.0 else value * tirx.const(scale, dtype)

    def body(*index: PrimExpr) -> PrimExpr:
        b, k, c = layout.split(index)
        scope = LetScope(dtype)
        value: Cx = scope.bind(result(b, k))
        if not layout.complex:
            return scope.wrap(scaled(value.re))
        return scope.wrap(tirx.Select(c == 0, scaled(value.re), scaled(value.im)))

    attrs = {KERNEL_ATTR: POST_TAG, AXIS_ATTR: layout.axis, PAIRS_ATTR: int(pairs)}
    return te.compute(layout.shape, body, name="fft_out", attrs=attrs)
