"""Numerics and plans of fftc's FFT kernel (``fftc.kernels.fft``).

Each case is emitted with ``emit_dft``, run through Relax's "zero" pipeline
(fusion) and fftc's schedule driver, compiled for this CPU and compared with
``numpy.fft`` in float64 (and, for a few cases, with onnxruntime's ``DFT``).

Tolerance: a floating-point FFT computed in ``log2(n)`` radix-2 levels has a
relative (2-norm) error of at most ``log2(n) * eta / (1 - log2(n) * eta)``
with ``eta = mu + gamma_4 * (sqrt(2) + mu) ~ 7u`` for twiddles rounded to
``mu ~ u`` (Higham, *Accuracy and Stability of Numerical Algorithms*,
Thm. 24.2; ``u = 2**-24`` in fp32, so ``eta ~ 4e-7``).  Radix-4/odd-prime
butterflies only regroup those operations, and Bluestein runs two FFTs of
length ``m <= 4n`` plus two chirp products (``log2(m) <= log2(n) + 2``).
We check ``max|y - ref| <= 2e-6 * max(1, log2(n)) * max|ref|``: about 5x the
per-level constant, which covers comparing a max-abs error with ``max|ref|``
instead of 2-norms and the Bluestein overhead, while a wrong index or twiddle
(an O(1) relative error) exceeds it by 4+ orders of magnitude.  Measured
errors are 0.3-2e-7 for every case here.  Against onnxruntime, whose own fp32
error is added to the bound (its Bluestein path is ~50x less accurate than
ours), the check is about semantics: shapes, scaling, the ignored imaginary
parts of irfft.  float64 uses the same formula with ``u = 2**-53``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import pytest
from onnx import TensorProto, helper

from fftc.codegen.schedule import apply_schedules, block_kernel
from fftc.codegen.tvm_api import Schedule, ir, llvm_target, relax, tirx, tvm
from fftc.kernels.fft import emit_dft, plan_dft, plan_tables
from fftc.kernels.fft.plan import MAX_PRIME, BluesteinPlan, MixedRadixPlan, pack_radices

Norm = Literal["backward", "ortho", "forward"]

#: relative error allowed per log2(n) (see the module docstring)
RTOL = {"float32": 2e-6, "float64": 2e-6 * 2.0**-29}

LENGTHS = [1, 2, 3, 4, 5, 7, 8, 12, 15, 16, 17, 30, 64, 97, 100, 127, 128, 243, 256, 360, 1000]
LENGTHS += [1024, 4096, 8191]
REAL_LENGTHS = [1, 2, 3, 4, 5, 8, 15, 16, 17, 30, 97, 100, 127, 128, 360, 1000, 1024, 8191]


def compile_dft(
    shape: tuple[int, ...],
    *,
    axis: int,
    length: int,
    inverse: bool = False,
    onesided: bool = False,
    norm: str = "backward",
    knobs: Mapping[str, int | str] | None = None,
    dtype: str = "float32",
    schedule: bool = True,
) -> Callable[[np.ndarray], np.ndarray]:
    """``emit_dft`` -> zero pipeline -> fftc schedules -> a callable on NumPy arrays."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType(shape, dtype))
    with bb.function("main", [x]):
        with bb.dataflow():
            y = emit_dft(
                bb,
                x,
                axis=axis,
                length=length,
                inverse=inverse,
                onesided=onesided,
                norm=norm,
                knobs=knobs,
            )
            out = bb.emit_output(y)
        bb.emit_func_output(out)
    target = llvm_target()
    with target:
        mod = relax.get_pipeline("zero")(bb.get())
    if schedule:
        mod, report = apply_schedules(mod, target)
        assert not report.failed, report.failed
    vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    return lambda data: vm["main"](tvm.runtime.tensor(data)).numpy()


def as_complex(data: np.ndarray) -> np.ndarray:
    """ONNX layout -> NumPy: trailing 2 -> complex, trailing 1 -> real (float64)."""
    data = data.astype(np.float64)
    return data[..., 0] + 1j * data[..., 1] if data.shape[-1] == 2 else data[..., 0]


def reference(
    data: np.ndarray, axis: int, length: int, inverse: bool, onesided: bool, norm: Norm
) -> np.ndarray:
    x = as_complex(data)
    if inverse:
        fn = np.fft.irfft if onesided else np.fft.ifft
    else:
        fn = np.fft.rfft if onesided else np.fft.fft
    return fn(x, length, axis=axis, norm=norm)


def assert_close(
    out: np.ndarray, ref: np.ndarray, length: int, dtype: str, scale: float = 1
) -> None:
    bound = scale * RTOL[dtype] * max(1.0, math.log2(length)) * np.abs(ref).max()
    error = np.abs(as_complex(out) - ref).max()
    assert error <= bound, f"max error {error:.3g} > {bound:.3g}"


def check(
    shape: tuple[int, ...],
    axis: int,
    length: int,
    inverse: bool = False,
    onesided: bool = False,
    norm: Norm = "backward",
    knobs: Mapping[str, int | str] | None = None,
    dtype: str = "float32",
    schedule: bool = True,
) -> None:
    run = compile_dft(
        shape,
        axis=axis,
        length=length,
        inverse=inverse,
        onesided=onesided,
        norm=norm,
        knobs=knobs,
        dtype=dtype,
        schedule=schedule,
    )
    data = np.random.default_rng(length).standard_normal(shape).astype(dtype)
    out = run(data)
    ref = reference(data, axis, length, inverse, onesided, norm)
    expected_shape = list(shape)
    expected_shape[axis] = ref.shape[axis]
    expected_shape[-1] = 1 if inverse and onesided else 2
    assert out.shape == tuple(expected_shape)
    assert out.dtype == np.dtype(dtype)
    assert_close(out, ref, length, dtype)


# --- numerics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", LENGTHS)
def test_fft(n: int) -> None:
    check((2, n, 2), 1, n)


@pytest.mark.parametrize("n", [1, 3, 12, 17, 97, 360, 1024, 8191])
def test_ifft(n: int) -> None:
    check((2, n, 2), 1, n, inverse=True)


@pytest.mark.parametrize("n", REAL_LENGTHS)
def test_rfft(n: int) -> None:
    check((3, n, 1), 1, n, onesided=True)


@pytest.mark.parametrize("n", REAL_LENGTHS)
def test_irfft(n: int) -> None:
    # random input: X[0] and X[n/2] have imaginary parts, which irfft must ignore
    check((3, n // 2 + 1, 2), 1, n, inverse=True, onesided=True)


@pytest.mark.parametrize(
    ("shape", "axis", "n", "inverse", "onesided"),
    [
        ((3, 360, 5, 2), 1, 360, False, False),
        ((3, 360, 5, 2), 1, 360, True, False),
        ((3, 97, 5, 2), 1, 97, False, False),
        ((128, 4, 1), 0, 128, False, False),
        ((128, 4, 1), 0, 128, False, True),
        ((100, 4, 1), 0, 100, False, True),
        ((65, 4, 2), 0, 128, True, True),
        ((50, 3, 2), 0, 99, True, True),
        ((2, 3, 64, 2), 2, 64, False, False),
        ((2, 30, 3, 4, 1), 1, 30, False, True),
        ((2, 16, 3, 4, 2), 1, 30, True, True),
    ],
)
def test_layouts(shape: tuple[int, ...], axis: int, n: int, inverse: bool, onesided: bool) -> None:
    check(shape, axis, n, inverse, onesided)


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize(
    ("inverse", "onesided", "c"), [(False, False, 2), (True, False, 2), (False, True, 1)]
)
def test_norms(norm: Norm, inverse: bool, onesided: bool, c: int) -> None:
    check((2, 120, c), 1, 120, inverse, onesided, norm)


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_irfft_norms(norm: Norm) -> None:
    check((2, 61, 2), 1, 120, True, True, norm)


@pytest.mark.parametrize(
    ("n", "onesided", "knobs"),
    [
        (1024, False, {"fft.max_radix": 2}),
        (1024, False, {"fft.max_radix": 8}),
        (4096, False, {"fft.max_radix": 16}),
        (360, False, {"fft.max_radix": 16}),
        (30, False, {"fft.max_prime": 3}),  # 5 > 3: Bluestein
        (97, False, {"fft.bluestein_pad": "smooth"}),
        (1000, True, {"fft.real_half": 0}),
        (1000, True, {"fft.max_prime": 3, "fft.bluestein_pad": "smooth"}),
    ],
)
def test_compute_knobs(n: int, onesided: bool, knobs: dict[str, int | str]) -> None:
    check((2, n, 1 if onesided else 2), 1, n, onesided=onesided, knobs=knobs)


def test_irfft_without_half_trick() -> None:
    check((2, 51, 2), 1, 100, True, True, knobs={"fft.real_half": 0})


@pytest.mark.parametrize(
    ("shape", "n", "inverse", "onesided"),
    [
        ((2, 1000, 2), 1000, False, False),
        ((2, 97, 1), 97, False, True),
        ((2, 33, 2), 64, True, True),
    ],
)
def test_float64(shape: tuple[int, ...], n: int, inverse: bool, onesided: bool) -> None:
    check(shape, 1, n, inverse, onesided, dtype="float64")


@pytest.mark.parametrize(("n", "onesided"), [(360, False), (97, True)])
def test_unscheduled_is_correct(n: int, onesided: bool) -> None:
    """The driver keeps a function unscheduled when a template fails: still correct."""
    check((2, n, 1 if onesided else 2), 1, n, onesided=onesided, schedule=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "n", "inverse", "onesided"),
    [
        ((65536, 2), 65536, False, False),
        ((65536, 2), 65536, True, False),
        ((65536, 1), 65536, False, True),
        ((32769, 2), 65536, True, True),
        ((65537, 2), 65537, False, False),
        ((8, 4096, 1), 4096, False, True),
    ],
)
def test_large(shape: tuple[int, ...], n: int, inverse: bool, onesided: bool) -> None:
    axis = len(shape) - 2
    check(shape, axis, n, inverse, onesided)


def test_fused_with_neighbours() -> None:
    """x*2 -> rfft -> *K -> irfft -> +1: Relax fuses it all into one PrimFunc."""
    n, batch = 200, 3
    spectrum = np.random.default_rng(1).standard_normal((batch, n // 2 + 1, 2)).astype("float32")
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((batch, n, 1), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            h = bb.emit(relax.op.multiply(x, relax.const(np.float32(2.0))))
            s = emit_dft(bb, h, axis=1, length=n, inverse=False, onesided=True)
            s = bb.emit(relax.op.multiply(s, relax.const(spectrum)))
            y = emit_dft(bb, s, axis=1, length=n, inverse=True, onesided=True)
            out = bb.emit_output(bb.emit(relax.op.add(y, relax.const(np.float32(1.0)))))
        bb.emit_func_output(out)
    target = llvm_target()
    with target:
        mod = relax.get_pipeline("zero")(bb.get())
    mod, report = apply_schedules(mod, target)
    assert not report.failed, report.failed
    vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    data = np.random.default_rng(2).standard_normal((batch, n, 1)).astype("float32")
    out = vm["main"](tvm.runtime.tensor(data)).numpy()
    s_ref = np.fft.rfft(2.0 * data[..., 0].astype(np.float64), axis=1)
    s_ref = s_ref.real * spectrum[..., 0] + 1j * s_ref.imag * spectrum[..., 1]
    ref = np.fft.irfft(s_ref, n, axis=1) + 1.0
    assert_close(out, ref, n, "float32", scale=2)


# --- against onnxruntime ----------------------------------------------------------------------


def onnxruntime_dft(
    data: np.ndarray, length: int, axis: int, inverse: bool, onesided: bool
) -> np.ndarray:
    """One ``DFT`` node (opset 20: inputs x, dft_length, axis) run by onnxruntime."""
    ort = pytest.importorskip("onnxruntime")
    node = helper.make_node(
        "DFT", ["x", "n", "axis"], ["y"], inverse=int(inverse), onesided=int(onesided)
    )
    graph = helper.make_graph(
        [node],
        "dft",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(data.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[
            helper.make_tensor("n", TensorProto.INT64, [], [length]),
            helper.make_tensor("axis", TensorProto.INT64, [], [axis]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": data})[0])


@pytest.mark.parametrize(
    ("shape", "axis", "n", "inverse", "onesided"),
    [
        ((2, 360, 2), 1, 360, False, False),
        ((2, 97, 2), 1, 97, True, False),
        ((3, 1000, 1), 1, 1000, False, True),
        ((3, 65, 2), 1, 128, True, True),
        ((17, 3, 1), 0, 17, False, True),
    ],
)
def test_matches_onnxruntime(
    shape: tuple[int, ...], axis: int, n: int, inverse: bool, onesided: bool
) -> None:
    data = np.random.default_rng(3).standard_normal(shape).astype("float32")
    expected = onnxruntime_dft(data, n, axis, inverse, onesided)
    out = compile_dft(shape, axis=axis, length=n, inverse=inverse, onesided=onesided)(data)
    assert out.shape == expected.shape
    ref = reference(data, axis, n, inverse, onesided, "backward")
    assert_close(out, ref, n, "float32")
    # onnxruntime's own fp32 error (its Bluestein path: ~1e-5 * log2(n) relative) adds to ours
    ort_error = np.abs(as_complex(expected) - ref).max()
    bound = ort_error + RTOL["float32"] * max(1.0, math.log2(n)) * np.abs(ref).max()
    assert np.abs(as_complex(out) - as_complex(expected)).max() <= bound


# --- structure --------------------------------------------------------------------------------


def test_every_block_is_tagged() -> None:
    """fftc's driver must not inline any block of the kernel."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((2, 50, 2), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            out = bb.emit_output(emit_dft(bb, x, axis=1, length=98, inverse=True, onesided=True))
        bb.emit_func_output(out)
    with llvm_target():
        mod = relax.get_pipeline("zero")(bb.get())
    (func,) = [f for _, f in mod.functions_items() if isinstance(f, tirx.PrimFunc)]
    sch = Schedule(ir.IRModule({"main": func}))
    blocks = sch.get_child_blocks(sch.get_sblock("root"))
    kinds = [block_kernel(sch, b) for b in blocks]
    assert len(kinds) > 2
    assert set(kinds) == {"fft.pack", "fft.stage", "fft.post"}


def test_plans() -> None:
    assert plan_dft(65536).core == MixedRadixPlan(65536, (4,) * 8)
    assert pack_radices(1000, 4) == (4, 2, 5, 5, 5)
    assert pack_radices(360, 16) == (12, 2, 15)
    assert pack_radices(13 * 4, 4) == (4, 13)
    assert plan_dft(8191).core == BluesteinPlan(8191, MixedRadixPlan(16384, (4,) * 7))
    smooth = plan_dft(65537, knobs={"fft.bluestein_pad": "smooth"}).core
    assert isinstance(smooth, BluesteinPlan)
    assert 2 * 65537 - 1 <= smooth.padded.length < 1 << 18
    half = plan_dft(1000, onesided=True, real_input=True)
    assert half.method == "real-half"
    assert half.core == MixedRadixPlan(500, (4, 5, 5, 5))
    assert plan_dft(1001, onesided=True, real_input=True).method == "complex"
    assert "bluestein(16384 = 4x4x4x4x4x4x4)" in plan_dft(8191).explain()


@pytest.mark.parametrize("n", [2, 97, 360, 1000, 4096, 8191, 65537])
def test_plans_are_n_log_n(n: int) -> None:
    """Radices are bounded, so every stage is O(n) and there are O(log n) stages."""
    core = plan_dft(n).core
    if isinstance(core, BluesteinPlan):
        assert core.padded.length >= 2 * n - 1
        assert core.padded.length <= 4 * n
        core = core.padded
    assert math.prod(core.radices) == core.length
    assert max(core.radices) <= int(MAX_PRIME.default)
    assert len(core.radices) <= math.log2(core.length)


def test_tables_are_small() -> None:
    """Twiddle tables hold about one complex number per point, per transform."""
    tables = plan_tables(plan_dft(65536))
    assert sum(t.size for t in tables.values()) <= 2 * 2 * 65536
    assert all(t.shape[0] == 2 for t in tables.values())


@pytest.mark.parametrize(
    ("shape", "axis", "length", "inverse", "onesided", "message"),
    [
        ((8, 3), 0, 8, False, False, "c in"),
        ((8, 2), 1, 8, False, False, "out of range"),
        ((8, 2), 0, 9, False, False, "expected 9"),
        ((8, 2), 0, 8, False, True, "needs a real input"),
        ((5, 1), 0, 8, True, True, "needs a complex input"),
        ((4, 2), 0, 8, True, True, "expected 5"),
    ],
)
def test_rejects_bad_inputs(
    shape: tuple[int, ...], axis: int, length: int, inverse: bool, onesided: bool, message: str
) -> None:
    x = relax.Var("x", relax.TensorType(shape, "float32"))
    with pytest.raises(ValueError, match=message):  # checked before anything is emitted
        emit_dft(
            relax.BlockBuilder(), x, axis=axis, length=length, inverse=inverse, onesided=onesided
        )


def test_rejects_bad_knobs() -> None:
    with pytest.raises(ValueError, match=r"fft\.max_radix"):
        plan_dft(64, knobs={"fft.max_radix": 5})
    with pytest.raises(ValueError, match="norm"):
        plan_dft(64, norm="none")
