"""The fused FFT convolution kernel (``fft_conv``): numerics against float64 NumPy.

Tolerance: two real FFTs of ``n`` points and a product; each transform's fp32
error is ~``eps * log2(n)`` relative to the signal's scale (see
tests/kernels/test_fft.py), so ``1e-5 * max|ref|`` (``eps = 6e-8``,
``log2(n) <= 12`` here: ~1e-6 expected, 10x margin) while a wrong index,
twiddle or scale gives O(1) errors.  Measured: 1-3e-7.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import fftc.schedules.cpu.fft_conv as fft_conv_schedule
from fftc.codegen.build import build
from fftc.codegen.tvm_api import tvm
from fftc.ir import DType, GraphBuilder, IRError, TensorType
from fftc.ir.ops.spectral import FFTConvAttrs, fft_conv_reference
from fftc.target import parse_target

F32 = DType.float32

CASES = {
    # name: (x shape, n, out_length, stride, spectrum shape or None (per row-channel))
    "causal-1k": ((1, 8, 1024), 2048, 1024, 1, None),
    "bluestein-half-97": ((2, 4, 97), 194, 97, 1, None),
    "odd-input": ((2, 4, 15), 32, 16, 1, None),
    "smooth-360": ((4, 100), 360, 100, 1, None),
    "strided": ((3, 50), 210, 20, 3, None),
    "broadcast-spectrum": ((2, 8, 100), 256, 60, 1, (1, 129, 2)),
    "channel-spectrum": ((2, 8, 100), 256, 100, 1, (8, 129, 2)),
    "one-row-vector": ((40,), 96, 40, 1, (49, 2)),
}


def _run(shape, n, out, stride, kshape, *, gate=False, runtime_spectrum=False, bands=()):
    rng = np.random.default_rng(0)
    kshape = kshape or (*shape[-2:-1], n // 2 + 1, 2)
    spec = rng.standard_normal(kshape).astype(np.float32)
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    k = b.input("k", TensorType(kshape, F32)) if runtime_spectrum else b.constant(spec, "k")
    y = b.node1("fft_conv", [x, k], FFTConvAttrs(n, out, stride, bands=bands), name="fc")
    oshape = (*shape[:-1], out)
    if gate:
        g = b.input("g", TensorType(oshape, F32))
        y = b.node1("mul", [y, g], name="gate")
    result = build(b.build([y], ["y"]), parse_target("llvm"))
    assert result is not None
    assert not result.schedule.failed, result.schedule.failed
    assert any("fft_conv.out" in used for used in result.schedule.scheduled.values())
    xv = rng.standard_normal(shape).astype(np.float32)
    ref = fft_conv_reference(
        xv.astype(np.float64), spec.astype(np.float64), FFTConvAttrs(n, out, stride, bands=bands)
    )
    args = [xv] + ([spec] if runtime_spectrum else [])
    if gate:
        gv = rng.standard_normal(oshape).astype(np.float32)
        args.append(gv)
        ref = ref * gv
    dev = tvm.cpu()
    from tvm.runtime.vm import VirtualMachine

    vm = VirtualMachine(result.executable, dev)
    out_v = vm["main"](*(tvm.runtime.tensor(a, dev) for a in args))
    y_v = out_v[0].numpy() if not hasattr(out_v, "numpy") else out_v.numpy()
    assert y_v.shape == ref.shape
    return np.abs(y_v - ref).max() / np.abs(ref).max()


@pytest.mark.parametrize("rows", [1, 4, 8])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fft_conv_matches_float64(case, rows, monkeypatch):
    """Each case with the rows knob at 1 (vectorised along a row) and 4, 8 rows per lane
    group (the rows then are the vector lanes; a row count they do not divide falls back)."""
    monkeypatch.setattr(fft_conv_schedule, "ROWS", replace(fft_conv_schedule.ROWS, default=rows))
    assert _run(*CASES[case]) <= 1e-5


@pytest.mark.parametrize(
    ("shape", "n", "out"),
    [((1, 4, 16), 32, 16), ((1, 4, 32), 64, 32), ((2, 4, 256), 512, 256), ((2, 3, 97), 194, 97)],
)
def test_fused_gate_epilogue(shape, n, out):
    """An elementwise consumer fuses into the output block (small rows once broke TVM's CSE)."""
    assert _run(shape, n, out, 1, None, gate=True) <= 1e-5


def test_constant_spectrum_is_stored_lane_interleaved():
    """Row ``r``'s bin ``k`` of a constant spectrum lands at ``[r // V, k, :, r % V]``, so
    the product loads ``V`` rows' bin as one vector; a spectrum for all rows, or a row
    count ``V`` does not divide, keeps its layout."""
    from fftc.codegen.tvm_api import relax
    from fftc.kernels.fft_conv import lane_spectrum

    spec = np.arange(16 * 5 * 2, dtype=np.float32).reshape(2, 8, 5, 2)
    out = lane_spectrum(relax.const(spec), spec.shape, 4)
    assert out is not None
    values = out.value.numpy()
    assert values.shape == (4, 5, 2, 4)
    rows = spec.reshape(16, 5, 2)
    for r in (0, 3, 5, 15):
        np.testing.assert_array_equal(values[r // 4, :, :, r % 4], rows[r])
    assert lane_spectrum(relax.const(spec[:1, :1]), (1, 1, 5, 2), 4) is None
    assert lane_spectrum(relax.const(spec[:, :3]), (2, 3, 5, 2), 4) is None


def test_spectrum_computed_at_run_time():
    assert _run((1, 4, 64), 128, 64, 1, None, runtime_spectrum=True) <= 1e-5


@pytest.mark.parametrize(
    ("xshape", "kshape", "attrs", "message"),
    [
        ((1, 4, 16), (4, 17, 2), FFTConvAttrs(33, 16), "even"),
        ((1, 4, 40), (4, 17, 2), FFTConvAttrs(32, 16), "longer than the FFT length"),
        ((1, 4, 16), (4, 16, 2), FFTConvAttrs(32, 16), "spectrum must be"),
        ((1, 4, 16), (3, 17, 2), FFTConvAttrs(32, 16), "broadcast"),
        ((1, 4, 16), (4, 17, 2), FFTConvAttrs(32, 17, 2), "exceed"),
    ],
)
def test_bad_attributes_are_refused(xshape, kshape, attrs, message):
    b = GraphBuilder("g")
    x = b.input("x", TensorType(xshape, F32))
    k = b.input("k", TensorType(kshape, F32))
    with pytest.raises(IRError, match=message):
        b.node1("fft_conv", [x, k], attrs, name="fc")


BANDED = {
    # name: (x shape, n, out_length, stride, bands: the kept bins)
    "lowpass-79%": ((2, 8, 1024), 2048, 1024, 1, ((0, 224),)),
    "lowpass-50%-edge-off-blocks": ((2, 8, 1024), 2048, 1024, 1, ((0, 513),)),
    "scattered": ((2, 8, 1024), 2048, 1024, 1, ((3, 100), (300, 700), (1000, 1025))),
    "high-bin-only": ((2, 8, 64), 128, 64, 1, ((64, 65),)),
    "smooth-360": ((4, 100), 360, 100, 1, ((0, 50), (120, 181))),  # h = 180: not 2^k
    "strided": ((3, 50), 210, 20, 3, ((10, 40),)),
    "bluestein-half-97": ((2, 4, 97), 194, 97, 1, ((0, 30), (60, 98))),
}


@pytest.mark.parametrize("rows", [1, 8])
@pytest.mark.parametrize("case", sorted(BANDED))
def test_fft_conv_with_bands_matches_float64(case, rows, monkeypatch):
    """Frequency-sparse: only the bins of ``bands`` count (the random spectrum is nonzero
    elsewhere, so a bin the kernel failed to drop gives an O(1) error), against the
    float64 reference that drops the same bins; rows knob 1 and 8 (both pack schedules)."""
    monkeypatch.setattr(fft_conv_schedule, "ROWS", replace(fft_conv_schedule.ROWS, default=rows))
    shape, n, out, stride, bands = BANDED[case]
    assert _run(shape, n, out, stride, None, bands=bands) <= 1e-5
