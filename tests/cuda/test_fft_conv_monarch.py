"""``fft_conv`` lowered for CUDA onto the Monarch kernel, checked on the host: the Relax
module the CUDA build lowers (``lower_graph(..., target_kind="cuda")``, the same TE
stages and roundings) is built for llvm and run against float64 NumPy / onnxruntime;
lengths the kernel cannot take keep the generic FFT kernel with a note.

Tolerances, relative to the largest exact output:

* fp32 ``1e-5``: four dense DFT matmul stages of at most ``2 * 64`` terms each plus
  twiddle and spectrum products, all in float32 (``eps = 6e-8``): ~1e-6 expected;
  measured 2-5e-7, while a wrong index, twiddle, padding or Hermitian sign gives O(1).
* fp16 ``3e-3``: every matmul operand (signal, twiddled intermediates, spectrum
  product, the DFT matrices) is rounded to fp16 (unit roundoff ``2^-11 = 4.9e-4``),
  accumulation in float32; the roundings are independent, so the error stays near
  one roundoff: measured 3-5e-4 (the kernel's own tests: ``3e-3`` vs np.fft).
* bf16 ``2e-2``: the same with bf16's ``2^-8 = 3.9e-3``: measured 2-4e-3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fftc.codegen.lower import lower_graph
from fftc.ir import DType, Graph, GraphBuilder, TensorType
from fftc.ir.ops.spectral import FFTConvAttrs, fft_conv_reference
from tests.conftest import EXAMPLES

F32 = DType.float32
TOLERANCE = {"float32": 1e-5, "float16": 3e-3, "bfloat16": 2e-2}
DTYPES = sorted(TOLERANCE)

#: name: (x shape, N, out_length, stride, spectrum shape); L < N and out_length < N in all
CASES = {
    "256-per-channel": ((2, 3, 200), 256, 200, 1, (3, 129, 2)),
    "512-non-square-strided-one-spectrum": ((2, 3, 300), 512, 100, 3, (1, 257, 2)),
    "1024-vector": ((1000,), 1024, 1000, 1, (513, 2)),
    "4096-per-row": ((2, 4000), 4096, 3000, 1, (2, 2049, 2)),
}


def build_for_llvm(graph: Graph, dtype: str) -> tuple[Any, list[str], list[str]]:
    """The Relax module ``build`` makes for a CUDA target with ``--dtype`` ``dtype``,
    fused and compiled for llvm (unscheduled); returns it with the lowering notes and
    the nodes lowered to the Monarch kernel."""
    from fftc.codegen.cuda_build import apply_precision
    from fftc.codegen.tvm_api import llvm_target, relax, tvm

    mod, ctx = lower_graph(graph, target_kind="cuda", compute_dtype=dtype)
    if dtype != "float32":
        mod, _ = apply_precision(mod, dtype, len(ctx.monarch_ops))
    target = llvm_target()
    with target:
        mod = relax.get_pipeline("zero")(mod)
    return tvm.compile(mod, target=target), ctx.notes, ctx.monarch_ops


def run(executable: Any, *args: np.ndarray) -> list[np.ndarray]:
    from tvm.runtime.vm import VirtualMachine

    from fftc.codegen.tvm_api import tvm

    dev = tvm.cpu()
    outs = VirtualMachine(executable, dev)["main"](*(tvm.runtime.tensor(a, dev) for a in args))
    return [o.numpy().astype(np.float64) for o in outs]


def fft_conv_graph(shape: tuple[int, ...], attrs: FFTConvAttrs, spectrum: np.ndarray) -> Graph:
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    y = b.node1("fft_conv", [x, b.constant(spectrum, "k")], attrs, name="fc")
    return b.build([y], ["y"])


def relative_error(got: np.ndarray, exact: np.ndarray) -> float:
    return float(np.abs(got - exact).max() / np.abs(exact).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_monarch_lowering_matches_float64(case: str, dtype: str) -> None:
    shape, n, out, stride, kshape = CASES[case]
    rng = np.random.default_rng(0)
    spectrum = rng.standard_normal(kshape).astype(np.float32)
    attrs = FFTConvAttrs(n, out, stride)
    executable, notes, monarch = build_for_llvm(fft_conv_graph(shape, attrs, spectrum), dtype)
    assert monarch == ["fft_conv 'fc'"], notes
    x = rng.standard_normal(shape).astype(np.float32)
    exact = fft_conv_reference(x.astype(np.float64), spectrum.astype(np.float64), attrs)
    (got,) = run(executable, x)
    assert got.shape == exact.shape
    assert relative_error(got, exact) <= TOLERANCE[dtype]


def _gated_graph(shape: tuple[int, ...], n: int) -> Graph:
    """``(fft_conv(x, k) + D * x) * gate`` with a run-time spectrum ``k`` (Hyena's epilogue)."""
    rows, length = shape[-2], shape[-1]
    b = GraphBuilder("gated")
    x = b.input("x", TensorType(shape, F32))
    k = b.input("k", TensorType((rows, n // 2 + 1, 2), F32))
    gate = b.input("gate", TensorType(shape, F32))
    d = b.constant(np.linspace(-1, 1, rows, dtype=np.float32).reshape(rows, 1), "d")
    y = b.node1("fft_conv", [x, k], FFTConvAttrs(n, length), name="fc")
    y = b.node1("add", [y, b.node1("mul", [d, x], name="dx")], name="res")
    return b.build([b.node1("mul", [y, gate], name="gated")], ["y"])


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_runtime_spectrum_and_fused_epilogue(dtype: str) -> None:
    from fftc.codegen.fusion_report import fusion_notes
    from fftc.codegen.tvm_api import llvm_target, relax

    shape, n = (2, 4, 256), 512
    graph = _gated_graph(shape, n)
    mod, _ = lower_graph(graph, target_kind="cuda", compute_dtype=dtype)
    with llvm_target():
        fused = relax.get_pipeline("zero")(mod)
    (kernel,) = [line for line in fusion_notes(fused) if "monarch" in line]
    assert "3 fused ops" in kernel  # D*x, + and the gate: computed by the output stage

    rng = np.random.default_rng(1)
    x, gate = rng.standard_normal((2, *shape)).astype(np.float32)
    k = np.fft.rfft(rng.standard_normal((shape[1], n)) / np.sqrt(n), axis=-1)
    k = np.stack([k.real, k.imag], axis=-1).astype(np.float32)
    executable, _, monarch = build_for_llvm(graph, dtype)
    assert monarch == ["fft_conv 'fc'"]
    (got,) = run(executable, x, k, gate)
    d = np.linspace(-1, 1, shape[1], dtype=np.float32).reshape(shape[1], 1)
    conv = fft_conv_reference(x.astype(np.float64), k.astype(np.float64), FFTConvAttrs(n, 256))
    exact = (conv + d * x) * gate
    assert relative_error(got, exact) <= TOLERANCE[dtype]


@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", 1e-5), ("float16", 3e-3),
                                                  ("bfloat16", 2e-2)])  # fmt: skip
def test_hyena_built_for_llvm_matches_onnxruntime(dtype: str, tolerance: float) -> None:
    """The whole Hyena block as compiled for cuda (fp16/bf16 matmuls too) against
    onnxruntime; its fft_conv (N = 512 = 16 x 32) runs on the Monarch stages."""
    from fftc.api import import_model, pass_options_for
    from fftc.passes import PassContext
    from fftc.passes.pipeline import run_pipeline
    from fftc.target import parse_target
    from fftc.testing import random_inputs, run_onnxruntime

    path = EXAMPLES / "onnx" / "hyena_block.onnx"
    options = pass_options_for(None, parse_target("cuda:sm_90"))
    graph = run_pipeline(import_model(path), PassContext(options))
    executable, _, monarch = build_for_llvm(graph, dtype)
    assert monarch == ["fft_conv 'node__fft_c2r'"]
    feeds = random_inputs(path, 0)
    (expected,) = run_onnxruntime(path, feeds).values()
    (got,) = run(executable, *feeds.values())
    assert relative_error(got, expected.astype(np.float64)) <= tolerance


#: name: (N, bands, compute dtype, the reason in the note)
REFUSED = {
    "too-long": (2097152, (), "float16", "handles N <= 256 x 4096 = 1048576"),
    "not-16-by-16": (384, (), "float16", "n1, n2 multiples of 16"),
    "shared-memory": (1280, (), "bfloat16", "would need 56320 bytes of shared memory"),
    "bands": (512, ((0, 40),), "float16", "frequency bands"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_lengths_the_kernel_cannot_take_keep_the_fft_kernel(case: str) -> None:
    n, bands, dtype, reason = REFUSED[case]
    spectrum = np.ones((4, n // 2 + 1, 2), np.float32)
    graph = fft_conv_graph((4, n // 2), FFTConvAttrs(n, n // 2, bands=bands), spectrum)
    mod, ctx = lower_graph(graph, target_kind="cuda", compute_dtype=dtype)
    assert not ctx.monarch_ops
    assert any(
        note.startswith("fft_conv 'fc': not on the tensor-core Monarch kernel") and reason in note
        for note in ctx.notes
    ), ctx.notes
    assert any("fused FFT convolution" in note for note in ctx.notes)
    assert "monarch" not in mod.script()


def test_fp32_has_no_shared_memory_limit() -> None:
    """fp32 matmuls run on CUDA cores (no operands in shared memory): 1280 = 16 x 80 fits."""
    spectrum = np.ones((4, 641, 2), np.float32)
    graph = fft_conv_graph((4, 640), FFTConvAttrs(1280, 640), spectrum)
    _, ctx = lower_graph(graph, target_kind="cuda", compute_dtype="float32")
    assert ctx.monarch_ops == ["fft_conv 'fc'"]


def test_llvm_targets_keep_the_fft_kernel() -> None:
    graph = fft_conv_graph((4, 256), FFTConvAttrs(512, 256), np.ones((4, 257, 2), np.float32))
    _, ctx = lower_graph(graph)
    assert not ctx.monarch_ops
    assert not any("Monarch" in note for note in ctx.notes)
