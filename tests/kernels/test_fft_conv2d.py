"""The fused 2-D FFT convolution kernel (``fft_conv2d``): numerics against float64 NumPy.

Tolerance: as for the 1-D kernel (tests/kernels/test_fft_conv.py), two real 2-D
FFTs of ``NH x NW`` points and a product: fp32 error ~``eps * log2(NH*NW)``
relative to the output's scale (``<= 13`` here: ~1e-6), so ``1e-5 * max|ref|``
with a 10x margin; a wrong index, twiddle, layout or scale gives O(1) errors.
Measured: 1-3e-7.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import fftc.schedules.cpu.fft_conv2d as fft_conv2d_schedule
from fftc.codegen.build import build
from fftc.codegen.tvm_api import tvm
from fftc.ir import DType, GraphBuilder, IRError, TensorType
from fftc.ir.ops.spectral import FFTConv2DAttrs, fft_conv2d_reference
from fftc.target import parse_target

F32 = DType.float32

CASES = {
    # name: (x shape, attrs, spectrum shape)
    "nchw-8-channels": ((1, 8, 10, 12), FFTConv2DAttrs((16, 24), (10, 12)), (8, 16, 13, 2)),
    "nhwc-broadcast-strided": (
        (2, 6, 7, 4),
        FFTConv2DAttrs((8, 10), (4, 5), (2, 2), 1),
        (8, 6, 4, 2),
    ),
    "odd-width-smooth": ((2, 4, 9, 15), FFTConv2DAttrs((15, 30), (9, 15)), (4, 15, 16, 2)),
    "bluestein-both-axes": ((1, 4, 17, 30), FFTConv2DAttrs((17, 34), (17, 30)), (4, 17, 18, 2)),
    "one-image": ((12, 20), FFTConv2DAttrs((12, 20), (12, 20)), (12, 11, 2)),
    "one-spectrum-for-all": ((3, 5, 6, 6), FFTConv2DAttrs((8, 8), (6, 6)), (8, 5, 2)),
}


def _run(shape, attrs, kshape, *, gate=False):
    rng = np.random.default_rng(0)
    spec = rng.standard_normal(kshape).astype(np.float32)
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    y = b.node1("fft_conv2d", [x, b.constant(spec, "k")], attrs, name="fc")
    oshape = b.type_of(y).shape
    if gate:
        y = b.node1("mul", [y, b.input("g", TensorType(oshape, F32))], name="gate")
    result = build(b.build([y], ["y"]), parse_target("llvm"))
    assert result is not None
    assert not result.schedule.failed, result.schedule.failed
    assert any("fft_conv2d.out" in used for used in result.schedule.scheduled.values())
    xv = rng.standard_normal(shape).astype(np.float32)
    ref = fft_conv2d_reference(xv.astype(np.float64), spec.astype(np.float64), attrs)
    args = [xv]
    if gate:
        gv = rng.standard_normal(oshape).astype(np.float32)
        args.append(gv)
        ref = ref * gv
    from tvm.runtime.vm import VirtualMachine

    dev = tvm.cpu()
    out = VirtualMachine(result.executable, dev)["main"](
        *(tvm.runtime.tensor(a, dev) for a in args)
    )
    y_v = out[0].numpy() if not hasattr(out, "numpy") else out.numpy()
    assert y_v.shape == ref.shape
    return np.abs(y_v - ref).max() / np.abs(ref).max()


@pytest.mark.parametrize("rows", [0, 1, 4, 8])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fft_conv2d_matches_float64(case, rows, monkeypatch):
    """Each case with the rows knob at auto (0), 1 (no lanes), 4 and 8 rows as vector lanes
    (a row count they do not divide uses the largest power of two that does)."""
    knob = replace(fft_conv2d_schedule.ROWS, default=rows)
    monkeypatch.setattr(fft_conv2d_schedule, "ROWS", knob)
    assert _run(*CASES[case]) <= 1e-5


def test_fused_gate_epilogue():
    assert _run(*CASES["nchw-8-channels"], gate=True) <= 1e-5


@pytest.mark.parametrize(
    ("xshape", "kshape", "attrs", "message"),
    [
        ((1, 4, 8, 8), (4, 8, 5, 2), FFTConv2DAttrs((8, 9), (8, 8)), "even"),
        ((1, 4, 8, 8), (4, 8, 5, 2), FFTConv2DAttrs((6, 8), (6, 8)), "larger than"),
        ((1, 4, 8, 8), (4, 8, 4, 2), FFTConv2DAttrs((8, 8), (8, 8)), "no \\(8, 5\\)"),
        ((1, 4, 8, 8), (3, 8, 5, 2), FFTConv2DAttrs((8, 8), (8, 8)), "broadcast"),
        ((1, 4, 8, 8), (4, 8, 5, 2), FFTConv2DAttrs((8, 8), (8, 8), (2, 1)), "exceed"),
        ((8, 8), (8, 5, 2), FFTConv2DAttrs((8, 8), (8, 8), axis=-3), "no two axes"),
    ],
)
def test_bad_attributes_are_refused(xshape, kshape, attrs, message):
    b = GraphBuilder("g")
    x = b.input("x", TensorType(xshape, F32))
    k = b.input("k", TensorType(kshape, F32))
    with pytest.raises(IRError, match=message):
        b.node1("fft_conv2d", [x, k], attrs, name="fc")
