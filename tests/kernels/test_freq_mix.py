"""The per-frequency channel mixing op and kernel (``freq_mix``): its reference
against a float64 loop, the kernel against the reference, shape errors.

Tolerance: each output is a sum of ``C_in/groups`` complex products (<= 16
here); fp32 rounding is ~eps*sqrt(terms) of the output's scale, so 1e-5 of
max|y| holds with a wide margin; a wrong index or sign gives O(1) errors.
Measured: ~2e-7.
"""

from __future__ import annotations

import numpy as np
import pytest

from fftc.codegen.build import build
from fftc.codegen.tvm_api import tvm
from fftc.ir import DType, GraphBuilder, IRError, TensorType
from fftc.ir.ops.mixing import FreqMixAttrs, freq_mix_reference
from fftc.target import parse_target

F32 = DType.float32

CASES = {
    # name: (x shape, weight shape (planar), groups)
    "fno-2d-modes": ((1, 16, 16, 8, 2), (16, 16, 2, 16, 8), 1),
    "grouped-batch-2": ((2, 8, 5, 2), (12, 4, 2, 5), 2),
    "no-batch-dims": ((6, 7, 3, 2), (4, 6, 2, 7, 3), 1),
    "depthwise-multiplier": ((1, 3, 10, 2), (6, 1, 2, 10), 3),
    "odd-points-17": ((3, 4, 17, 2), (5, 4, 2, 17), 1),
}


def _loop_reference(x, w, groups):
    """y[b, o, f] = sum_i x[b, g(o)*C_in/groups + i, f] * w[o, i, f], complex, float64."""
    xc = x[..., 0].astype(np.float64) + 1j * x[..., 1]
    wc = w[:, :, 0].astype(np.float64) + 1j * w[:, :, 1]
    lead = x.ndim - w.ndim + 1
    c_out, per_group = wc.shape[:2]
    xc = np.moveaxis(xc, lead, 0)  # (C_in, B..., F...)
    y = np.zeros((c_out, *xc.shape[1:]), complex)
    for o in range(c_out):
        first = o // (c_out // groups) * per_group
        for i in range(per_group):
            y[o] += xc[first + i] * wc[o, i]
    y = np.moveaxis(y, 0, lead)
    return np.stack([y.real, y.imag], axis=-1)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_is_the_grouped_complex_sum(case):
    xs, ws, groups = CASES[case]
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    np.testing.assert_allclose(freq_mix_reference(x, w, groups), _loop_reference(x, w, groups),
                               rtol=1e-12, atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("constant", [True, False], ids=["const-weight", "input-weight"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_reference(case, constant):
    xs, ws, groups = CASES[case]
    rng = np.random.default_rng(0)
    w = rng.standard_normal(ws).astype(np.float32)
    b = GraphBuilder("g")
    x = b.input("x", TensorType(xs, F32))
    wn = b.constant(w, "w") if constant else b.input("w", TensorType(ws, F32))
    y = b.node1("freq_mix", [x, wn], FreqMixAttrs(groups), name="fm")
    result = build(b.build([y], ["y"]), parse_target("llvm"))
    assert result is not None
    assert not result.schedule.failed, result.schedule.failed
    assert any("freq_mix.out" in used for used in result.schedule.scheduled.values())
    xv = rng.standard_normal(xs).astype(np.float32)
    from tvm.runtime.vm import VirtualMachine

    dev = tvm.cpu()
    args = [xv] if constant else [xv, w]
    out = VirtualMachine(result.executable, dev)["main"](
        *(tvm.runtime.tensor(a, dev) for a in args)
    )
    got = out[0].numpy() if not hasattr(out, "numpy") else out.numpy()
    ref = _loop_reference(xv, w, groups)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()


@pytest.mark.parametrize(
    ("xs", "ws", "groups", "message"),
    [
        ((1, 4, 5, 2), (4, 4, 5, 2), 1, "must be planar"),
        ((1, 4, 5, 1), (4, 4, 2, 5), 1, "must be a complex"),
        ((1, 4, 6, 2), (4, 4, 2, 5), 1, "frequencies"),
        ((1, 4, 5, 2), (4, 3, 2, 5), 1, "groups do not fit"),
        ((1, 4, 5, 2), (6, 2, 2, 5), 4, "groups do not fit"),
    ],
)
def test_shape_errors_name_the_op(xs, ws, groups, message):
    b = GraphBuilder("g")
    x = b.input("x", TensorType(xs, F32))
    w = b.input("w", TensorType(ws, F32))
    with pytest.raises(IRError, match=message):
        b.node1("freq_mix", [x, w], FreqMixAttrs(groups), name="fm")
