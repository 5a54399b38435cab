"""Numerics of fftc's direct Conv / ConvTranspose kernels.

Each case is emitted with ``emit_conv`` / ``emit_conv_transpose``, run through
Relax's "zero" pipeline (fusion) and fftc's schedule driver, compiled for this
CPU and compared with a float64 NumPy reference and with onnxruntime running
the same one-node ONNX model.

Tolerance: every output is a sum of ``n = C/groups * prod(kernel)`` products.
Rounding each product and partial sum in fp32 (unit roundoff u = 6e-8) gives
an error of at most ~``n*u*mag`` and typically ~``sqrt(n)*u*mag`` (random
walk), where ``mag = sum |x*w| + |b|`` is the same convolution on absolute
values.  We allow ``|y - ref| <= 16 * u * sqrt(n) * mag`` (``RTOL`` below),
which a wrong tap or index (an O(1) relative error) exceeds by orders of
magnitude.  Against onnxruntime (also fp32) the bound is doubled.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
import pytest

from fftc.codegen.build import _legalize_and_fuse
from fftc.codegen.schedule import apply_schedules, block_kernel
from fftc.codegen.tvm_api import Schedule, llvm_target, relax, tirx, tvm
from fftc.kernels.conv import emit_conv
from fftc.kernels.conv_bench import ConvSpec, compile_fftc, onnx_model, ort_session
from fftc.schedules.base import Knob, lookup

#: allowed error relative to ``sqrt(n) * mag`` (see the module docstring)
RTOL = {"float32": 16 * 2.0**-24, "float64": 16 * 2.0**-53, "float16": 4 * 2.0**-11}


def case_id(case: ConvSpec) -> str:
    kind = "convT" if case.transpose else "conv"
    knobs = "".join(f"-{v}" for v in case.knobs.values())
    return (
        f"{kind}{case.rank}d-x{'x'.join(map(str, case.x))}-w{'x'.join(map(str, case.w))}"
        f"-s{''.join(map(str, case.strides))}-p{''.join(map(str, case.pads))}"
        f"-d{''.join(map(str, case.dil))}-g{case.groups}{'-b' if case.bias else ''}{knobs}"
    )


# --- references ------------------------------------------------------------------------------


def reference_conv(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, case: ConvSpec
) -> np.ndarray:
    """ONNX Conv in float64: a sum over taps of strided slices of the padded input."""
    rank = case.rank
    pads = [(case.pads[i], case.pads[i + rank]) for i in range(rank)]
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), *pads])
    k = w.shape[2:]
    out = [
        (xp.shape[2 + i] - case.dil[i] * (k[i] - 1) - 1) // case.strides[i] + 1 for i in range(rank)
    ]
    cg, mg = x.shape[1] // case.groups, w.shape[0] // case.groups
    y = np.zeros((x.shape[0], w.shape[0], *out))
    for g in range(case.groups):
        xs = xp[:, g * cg : (g + 1) * cg]
        for tap in np.ndindex(*k):
            window: tuple[Any, ...] = tuple(
                slice(
                    tap[i] * case.dil[i],
                    tap[i] * case.dil[i] + case.strides[i] * (out[i] - 1) + 1,
                    case.strides[i],
                )
                for i in range(rank)
            )
            wk: Any = w[(slice(g * mg, (g + 1) * mg), slice(None), *tap)].astype(np.float64)
            patch: Any = xs[(Ellipsis, *window)]
            y[:, g * mg : (g + 1) * mg] += np.einsum("nc...,mc->nm...", patch, wk)
    if b is not None:
        y += b.astype(np.float64).reshape((1, -1) + (1,) * rank)
    return y


def reference_conv_transpose(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, case: ConvSpec
) -> np.ndarray:
    """ONNX ConvTranspose in float64: scatter each input sample times the kernel."""
    rank = case.rank
    k = w.shape[2:]
    cg, mg = x.shape[1] // case.groups, w.shape[1]
    full = [
        case.strides[i] * (x.shape[2 + i] - 1) + (k[i] - 1) * case.dil[i] + 1 + case.out_pad[i]
        for i in range(rank)
    ]
    y = np.zeros((x.shape[0], mg * case.groups, *full))
    for g in range(case.groups):
        xs = x[:, g * cg : (g + 1) * cg].astype(np.float64)
        for tap in np.ndindex(*k):
            window: tuple[Any, ...] = tuple(
                slice(
                    tap[i] * case.dil[i],
                    tap[i] * case.dil[i] + case.strides[i] * (x.shape[2 + i] - 1) + 1,
                    case.strides[i],
                )
                for i in range(rank)
            )
            wk = w[(slice(g * cg, (g + 1) * cg), slice(None), *tap)].astype(np.float64)
            y[(slice(None), slice(g * mg, (g + 1) * mg), *window)] += np.einsum(
                "nc...,cm->nm...", xs, wk
            )
    crop: tuple[Any, ...] = tuple(
        slice(case.pads[i], full[i] - case.pads[i + rank]) for i in range(rank)
    )
    y = y[(Ellipsis, *crop)]
    if b is not None:
        y += b.astype(np.float64).reshape((1, -1) + (1,) * rank)
    return y


def reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, case: ConvSpec) -> np.ndarray:
    fn = reference_conv_transpose if case.transpose else reference_conv
    return fn(x, w, b, case)


def onnxruntime_conv(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, case: ConvSpec, out_shape: tuple[int, ...]
) -> np.ndarray:
    """The same op run by onnxruntime as a one-node model."""
    model = onnx_model(case, w, b, out_shape)
    onnx.checker.check_model(onnx.load_from_string(model))
    return np.asarray(ort_session(model).run(None, {"x": x})[0])


# --- fftc ------------------------------------------------------------------------------------


def gelu(bb: relax.BlockBuilder, y: relax.Expr) -> relax.Expr:
    return bb.emit(relax.op.nn.gelu(y))


def relu_residual(bb: relax.BlockBuilder, y: relax.Expr) -> relax.Expr:
    return bb.emit(relax.op.add(relax.op.nn.relu(y), y))


def compile_and_run(
    case: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, epilogue: Any = None
) -> tuple[np.ndarray, Any]:
    """Build ``conv [-> epilogue]``, fuse, schedule, compile, run; returns (y, report)."""
    vm, report = compile_fftc(case, w, b, str(x.dtype), epilogue)
    return vm["main"](tvm.runtime.tensor(x, tvm.cpu())).numpy(), report


def tolerance(case: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Per-output bound ``RTOL * sqrt(n) * mag`` (module docstring)."""
    n = (case.x[1] // case.groups) * math.prod(case.w[2:])
    mag = reference(np.abs(x), np.abs(w), None if b is None else np.abs(b), case)
    return RTOL[str(x.dtype)] * math.sqrt(n) * mag + np.finfo(np.float64).tiny


def assert_close(actual: np.ndarray, expected: np.ndarray, tol: np.ndarray, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    excess = np.abs(actual.astype(np.float64) - expected) / tol
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    assert excess.max() <= 1.0, (
        f"{what}: error {excess.max():.3g}x the bound at {worst}: "
        f"{actual[worst]} vs {expected[worst]}"
    )


# --- the grid ----------------------------------------------------------------------------------

CONV_CASES = [
    # rank 1
    ConvSpec((1, 4, 37), (6, 4, 3), (1,), (1, 1)),
    ConvSpec((1, 16, 100), (16, 1, 31), (1,), (15, 15), groups=16),
    ConvSpec((1, 16, 100), (16, 1, 31), (3,), (2, 17), (2,), groups=16, bias=False),
    ConvSpec((1, 6, 41), (4, 3, 7), (2,), (3, 2), groups=2, bias=False),
    ConvSpec((1, 5, 40), (7, 5, 3), (3,), (0, 4), (3,)),
    ConvSpec((2, 8, 19), (16, 8, 1), (2,), (0, 0)),
    ConvSpec((1, 8, 33), (16, 1, 5), (1,), (2, 2), groups=8),
    # rank 2: dense
    ConvSpec((1, 16, 12, 14), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1)),
    ConvSpec(
        (1, 16, 12, 14), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1), knobs={"conv.strategy": "width"}
    ),
    ConvSpec((1, 16, 5, 5), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1), bias=False),
    ConvSpec((1, 32, 14, 14), (48, 32, 1, 1), (2, 2), (0, 0, 0, 0)),
    ConvSpec((1, 3, 32, 32), (16, 3, 7, 7), (2, 2), (3, 3, 3, 3)),
    ConvSpec((1, 3, 17, 19), (10, 3, 3, 3), (1, 2), (0, 1, 2, 0), (3, 1)),
    ConvSpec(
        (1, 3, 17, 19), (10, 3, 3, 3), (1, 1), (1, 1, 1, 1), knobs={"conv.strategy": "channel"}
    ),
    ConvSpec((2, 8, 9, 10), (16, 8, 3, 3), (3, 2), (1, 0, 2, 1), (2, 3), bias=False),
    # rank 2: depthwise and grouped
    ConvSpec((1, 32, 20, 20), (32, 1, 7, 7), (1, 1), (3, 3, 3, 3), groups=32),
    ConvSpec((1, 16, 40, 40), (16, 1, 31, 31), (1, 1), (15, 15, 15, 15), groups=16),
    ConvSpec((1, 8, 14, 14), (16, 1, 3, 3), (1, 1), (1, 1, 1, 1), groups=8),
    ConvSpec((1, 8, 15, 13), (24, 1, 5, 3), (2, 1), (2, 1, 1, 0), (1, 2), groups=8, bias=False),
    ConvSpec((1, 16, 15, 17), (24, 4, 3, 3), (2, 2), (1, 0, 2, 1), (2, 2), groups=4),
    ConvSpec((1, 32, 10, 10), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1), groups=2),
    ConvSpec((1, 12, 11, 11), (12, 1, 3, 3), (3, 3), (1, 1, 1, 1), (3, 3), groups=12),
    ConvSpec((1, 16, 15, 16), (16, 1, 3, 3), (2, 2), (1, 1, 1, 1), groups=16),
    ConvSpec((1, 16, 19, 23), (16, 1, 5, 5), (1, 1), (2, 2, 2, 2), groups=16),
    ConvSpec((1, 8, 17, 29), (16, 8, 3, 3), (1, 1), (1, 1, 1, 1), bias=False),
    ConvSpec((2, 8, 9, 10), (16, 8, 3, 3), (3, 2), (1, 0, 2, 1), knobs={"conv.strategy": "width"}),
    ConvSpec((1, 8, 5, 6), (8, 1, 1, 1), (1, 1), (0, 0, 0, 0), groups=8),
    ConvSpec((1, 8, 9, 1), (8, 1, 3, 1), (1, 1), (1, 0, 1, 0), groups=8),
    ConvSpec((1, 4, 6, 6), (4, 1, 3, 3), (1, 1), (4, 5, 2, 3), groups=4),
    ConvSpec(
        (1, 16, 6, 6), (16, 1, 3, 3), (1, 1), (1, 1, 1, 1), groups=16, knobs={"conv.tile_h": 1}
    ),
    ConvSpec(
        (1, 16, 8, 8),
        (16, 1, 5, 5),
        (1, 1),
        (2, 2, 2, 2),
        groups=16,
        knobs={"conv.tile_h": 4, "conv.row_taps": 1},
    ),
    # rank 3
    ConvSpec((1, 4, 6, 7, 8), (8, 4, 3, 3, 3), (1, 1, 1), (1, 1, 1, 1, 1, 1)),
    ConvSpec((1, 8, 5, 6, 7), (8, 1, 3, 1, 3), (1, 2, 1), (1, 0, 2, 0, 0, 1), groups=8),
    ConvSpec((1, 4, 4, 5, 6), (32, 2, 1, 3, 3), (2, 1, 1), (0, 1, 1, 0, 1, 1), groups=2),
    ConvSpec((1, 2, 5, 6, 20), (2, 1, 3, 3, 3), (1, 1, 1), (1,) * 6, groups=2),
]

TRANSPOSE_CASES = [
    ConvSpec((1, 4, 10), (4, 6, 3), (2,), (1, 0), output_padding=(1,), transpose=True),
    ConvSpec((1, 4, 8), (4, 4, 3), (1,), (3, 1), bias=False, transpose=True),
    ConvSpec(
        (1, 8, 7, 7), (8, 4, 3, 3), (2, 2), (1, 1, 1, 1), output_padding=(1, 1), transpose=True
    ),
    ConvSpec(
        (1, 8, 6, 5),
        (8, 8, 4, 4),
        (2, 3),
        (1, 0, 2, 1),
        output_padding=(1, 2),
        groups=2,
        transpose=True,
    ),
    ConvSpec((1, 4, 5, 5), (4, 16, 3, 3), (1, 1), (2, 2, 2, 2), (2, 2), transpose=True),
    ConvSpec((1, 8, 9, 9), (8, 1, 4, 4), (2, 2), (1, 1, 1, 1), groups=8, transpose=True),
    ConvSpec(
        (1, 16, 8, 8), (16, 32, 3, 3), (2, 2), (1, 1, 1, 1), output_padding=(1, 1), transpose=True
    ),
    ConvSpec((1, 2, 3, 4, 5), (2, 4, 2, 3, 3), (2, 1, 2), (0,) * 6, bias=False, transpose=True),
    ConvSpec(
        (1, 4, 6, 7), (4, 3, 2, 2), (3, 3), (0, 1, 1, 0), output_padding=(2, 1), transpose=True
    ),
    ConvSpec(
        (1, 6, 5, 5),
        (6, 2, 5, 5),
        (2, 2),
        (3, 3, 4, 4),
        output_padding=(1, 1),
        groups=3,
        transpose=True,
    ),
    ConvSpec((1, 16, 50), (16, 8, 8), (4,), (2, 2), transpose=True),
    ConvSpec(
        (1, 4, 6, 5),
        (4, 2, 3, 3),
        (2, 3),
        (1, 0, 2, 1),
        (2, 2),
        output_padding=(1, 1),
        groups=2,
        transpose=True,
    ),
    ConvSpec((1, 4, 7, 6), (4, 4, 3, 3), (2, 2), (1, 1, 1, 1), (2, 2), transpose=True),
]


@pytest.mark.parametrize("case", CONV_CASES + TRANSPOSE_CASES, ids=case_id)
def test_conv_matches_references(case: ConvSpec) -> None:
    x, w, b = case.random_inputs()
    y, report = compile_and_run(case, x, w, b)
    assert not report.failed, report.failed
    assert any("conv" in used for used in report.scheduled.values()), report.scheduled
    tol = tolerance(case, x, w, b)
    assert_close(y, reference(x, w, b, case), tol, "vs float64 NumPy")
    assert_close(y, onnxruntime_conv(x, w, b, case, y.shape), 2 * tol, "vs onnxruntime")


@pytest.mark.parametrize("dtype", ["float16", "float64"])
@pytest.mark.parametrize(
    "case",
    [
        ConvSpec((1, 16, 12, 14), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1)),
        ConvSpec((1, 16, 12, 14), (16, 1, 5, 5), (1, 1), (2, 2, 2, 2), groups=16),
        ConvSpec((1, 8, 7, 7), (8, 4, 3, 3), (2, 2), (1, 1, 1, 1), transpose=True),
    ],
    ids=case_id,
)
def test_other_dtypes(case: ConvSpec, dtype: str) -> None:
    x, w, b = case.random_inputs(dtype)
    y, report = compile_and_run(case, x, w, b)
    assert not report.failed, report.failed
    assert y.dtype == np.dtype(dtype)
    # fp16 results are rounded once at the end (accumulation is fp32)
    tol = tolerance(case, x, w, b)
    if dtype == "float16":
        tol = tol + 2.0**-11 * np.abs(reference(x, w, b, case))
    assert_close(y, reference(x, w, b, case), tol, f"{dtype} vs float64 NumPy")


@pytest.mark.parametrize("epilogue", ["gelu", "relu_residual"])
@pytest.mark.parametrize(
    "case",
    [
        ConvSpec((1, 16, 12, 14), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1)),
        ConvSpec((1, 16, 12, 14), (16, 1, 5, 5), (1, 1), (2, 2, 2, 2), groups=16),
    ],
    ids=case_id,
)
def test_fused_epilogue(case: ConvSpec, epilogue: str) -> None:
    """Elementwise consumers fuse into the conv's PrimFunc and are scheduled with it."""
    x, w, b = case.random_inputs()
    y, report = compile_and_run(
        case, x, w, b, {"gelu": gelu, "relu_residual": relu_residual}[epilogue]
    )
    assert not report.failed, report.failed
    assert len(report.scheduled) == 1, report.scheduled
    ref = reference(x, w, b, case)
    tol = tolerance(case, x, w, b)
    if epilogue == "gelu":
        erf = np.vectorize(math.erf)
        expected = 0.5 * ref * (1 + erf(ref / math.sqrt(2)))
        tol = tol + 1e-6 * np.abs(ref)
    else:
        expected = np.maximum(ref, 0) + ref
        tol = 2 * tol
    assert_close(y, expected, tol, f"conv+{epilogue}")


@pytest.mark.parametrize(
    "case",
    [
        ConvSpec((1, 16, 32, 32), (16, 16, 1, 1), (1, 1), (0, 0, 0, 0)),  # FNO's 1x1 conv
        ConvSpec((1, 16, 12, 14), (16, 1, 5, 5), (1, 1), (2, 2, 2, 2), groups=16),
    ],
    ids=case_id,
)
def test_fused_residual_gelu_epilogue(case: ConvSpec) -> None:
    """``gelu(r + conv(x))`` with ONNX's Erf GELU, built as fftc builds models (fast erf).

    The residual sum is read twice, so it is inlined into two blocks; TVM 0.27 then
    reverse-inlined the erf argument into ``conv.out`` and dropped the buffer the
    other block read ("used before its definition": the function ran unscheduled).
    """
    x, w, b = case.random_inputs()
    conv = reference(x, w, b, case)
    r = np.random.default_rng(1).standard_normal(conv.shape).astype(np.float32)
    target = llvm_target()
    bb = relax.BlockBuilder()
    xv = relax.Var("x", relax.TensorType(x.shape, "float32"))
    rv = relax.Var("r", relax.TensorType(r.shape, "float32"))
    half = relax.const(np.float32(0.5))
    with bb.function("main", [xv, rv]):
        with bb.dataflow():
            y = emit_conv(bb, xv, relax.const(w), relax.const(b), strides=case.strides,
                          pads=case.pads, dilations=case.dil, groups=case.groups)  # fmt: skip
            z = bb.emit(relax.op.add(rv, y))
            erf = bb.emit(relax.op.erf(relax.op.multiply(z, relax.const(np.float32(0.5**0.5)))))
            gated = relax.op.multiply(z, relax.op.add(half, relax.op.multiply(half, erf)))
            out = bb.emit_output(gated)
        bb.emit_func_output(out)
    mod = _legalize_and_fuse(bb.get(), target)
    mod, report = apply_schedules(mod, target)
    assert not report.failed, report.failed
    (used,) = report.scheduled.values()  # the conv and its epilogue: one function
    assert "conv" in used, used
    vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    dev = tvm.cpu()
    result = vm["main"](tvm.runtime.tensor(x, dev), tvm.runtime.tensor(r, dev)).numpy()
    ref = conv + r
    expected = 0.5 * ref * (1 + np.vectorize(math.erf)(ref / math.sqrt(2)))
    # fast erf is within ~3e-7 of erf; the conv's error passes through gelu' <= 1.13
    tol = 1.2 * tolerance(case, x, w, b) + 1e-6 * (np.abs(ref) + 1)
    assert_close(result, expected, tol, "conv+residual+gelu")


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [
        ConvSpec((1, 128, 56, 56), (128, 1, 31, 31), (1, 1), (15,) * 4, groups=128),
        ConvSpec((1, 768, 4096), (768, 1, 31), (1,), (15, 15), groups=768),
        ConvSpec((1, 3, 224, 224), (64, 3, 7, 7), (2, 2), (3,) * 4),
        ConvSpec((1, 64, 56, 56), (64, 64, 3, 3), (1, 1), (1,) * 4),
    ],
    ids=case_id,
)
def test_large_shapes(case: ConvSpec) -> None:
    x, w, b = case.random_inputs()
    y, report = compile_and_run(case, x, w, b)
    assert not report.failed, report.failed
    tol = tolerance(case, x, w, b)
    assert_close(y, onnxruntime_conv(x, w, b, case, y.shape), 2 * tol, "vs onnxruntime")


def test_runtime_weights() -> None:
    """Weights passed at run time (no constant folding of the channel-layout repack)."""
    case = ConvSpec((1, 16, 12, 14), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1))
    x, w, b = case.random_inputs()
    target = llvm_target()
    bb = relax.BlockBuilder()
    xv = relax.Var("x", relax.TensorType(x.shape, "float32"))
    wv = relax.Var("w", relax.TensorType(w.shape, "float32"))
    with bb.function("main", [xv, wv]):
        with bb.dataflow():
            y = emit_conv(bb, xv, wv, relax.const(b), strides=(1, 1), pads=(1, 1, 1, 1),
                          dilations=(1, 1), groups=1)  # fmt: skip
            out = bb.emit_output(y)
        bb.emit_func_output(out)
    with target:
        mod = relax.get_pipeline("zero")(bb.get())
    mod, report = apply_schedules(mod, target)
    assert not report.failed, report.failed
    assert any("conv.wpack" in used for used in report.scheduled.values()), report.scheduled
    vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    dev = tvm.cpu()
    result = vm["main"](tvm.runtime.tensor(x, dev), tvm.runtime.tensor(w, dev)).numpy()
    assert_close(result, reference(x, w, b, case), tolerance(case, x, w, b), "runtime weights")


class SampledKnobs:
    """Schedule knobs as a MetaSchedule search gives them: ``sample_categorical`` RVs."""

    def __init__(self, sch: Any) -> None:
        self.sch = sch

    def get(self, knob: Knob) -> Any:
        if knob.stage == "compute":
            return knob.default
        choices = [int(c) for c in knob.choices]
        return self.sch.sample_categorical(
            choices, [1 / len(choices)] * len(choices), choices.index(int(knob.default))
        )


@pytest.mark.parametrize(
    "case",
    [
        ConvSpec((1, 16, 12, 14), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1)),
        ConvSpec((1, 16, 16, 16), (16, 1, 7, 7), (1, 1), (3, 3, 3, 3), groups=16),
    ],
    ids=case_id,
)
def test_template_accepts_sampled_knobs(case: ConvSpec) -> None:
    """The template runs on random variables (the tuning path), not only on ints."""
    x, w, b = case.random_inputs()
    target = llvm_target()
    bb = relax.BlockBuilder()
    xv = relax.Var("x", relax.TensorType(x.shape, "float32"))
    with bb.function("main", [xv]):
        with bb.dataflow():
            y = emit_conv(bb, xv, relax.const(w), relax.const(b), strides=case.strides,
                          pads=case.pads, dilations=case.dil, groups=case.groups)  # fmt: skip
            out = bb.emit_output(y)
        bb.emit_func_output(out)
    with target:
        mod = relax.get_pipeline("zero")(bb.get())
    for gvar, func in mod.functions_items():
        if isinstance(func, tirx.PrimFunc) and "fftc_conv" in str(gvar.name_hint):
            sch = Schedule(tvm.IRModule({"main": func}))
            for block in sch.get_child_blocks(sch.get_sblock("root")):
                kind = block_kernel(sch, block)
                assert kind is not None
                template = lookup("llvm", kind)
                assert template is not None
                template.apply(sch, block, target, SampledKnobs(sch))
            assert len(sch.trace.decisions) > 0
            mod[gvar] = sch.mod["main"].with_attr("tirx.is_scheduled", True)
    vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    result = vm["main"](tvm.runtime.tensor(x, tvm.cpu())).numpy()
    assert_close(result, reference(x, w, b, case), tolerance(case, x, w, b), "sampled knobs")
