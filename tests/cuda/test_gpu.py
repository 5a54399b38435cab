"""On a GPU (skipped without one): the Monarch kernel against torch's FFT (cuFFT)
and float64, ``fft_conv`` lowered onto it against float64, and compiled models
against onnxruntime (fp32, and the Hyena block in fp16/bf16)."""

from __future__ import annotations

import numpy as np
import pytest

from fftc.kernels.cuda.monarch import kernel_inputs, reference_fft
from tests.conftest import EXAMPLES
from tests.cuda.conftest import MonarchProblem, random_problem
from tests.cuda.test_fft_conv_monarch import CASES, TOLERANCE, fft_conv_graph, relative_error

pytestmark = pytest.mark.gpu


def _run(dtype: str, n: int, rows: int = 64, heads: int = 8) -> tuple[np.ndarray, MonarchProblem]:
    """The kernel's output on this GPU (float64), and the problem it ran on."""
    from fftc.codegen.cuda import local_cuda_arch
    from fftc.codegen.tvm_api import tvm
    from fftc.kernels.cuda.build import compile_monarch

    arch = local_cuda_arch() or "sm_80"
    build = compile_monarch(rows, heads, n, dtype, arch)
    problem = random_problem(rows, heads, n)
    dev = tvm.cuda(0)
    args = [tvm.runtime.tensor(a, dev) for a in kernel_inputs(*problem, build.plan, dtype)]
    out = tvm.runtime.empty((rows, n), dtype, dev)
    build.executable["main"](*args, out)
    return out.numpy().astype(np.float64), problem


@pytest.mark.parametrize("n", [256, 512, 1024, 2048, 4096])
def test_fp32_within_1e5_of_float64(n: int) -> None:
    got, (u, spectrum, d, gate) = _run("float32", n)
    exact = reference_fft(u, spectrum, d, gate)
    assert np.abs(got - exact).max() <= 1e-5 * np.abs(exact).max()


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("n", [256, 1024, 4096])
def test_half_against_torch_fft(dtype: str, n: int) -> None:
    import torch

    got, (u, spectrum, d, gate) = _run(dtype, n)
    heads = spectrum.shape[0]
    h = np.arange(u.shape[0]) % heads
    tu = torch.tensor(u, device="cuda")
    y = torch.fft.ifft(torch.fft.fft(tu) * torch.tensor(spectrum[h], device="cuda")).real
    ref = (y + torch.tensor(d[h, None], device="cuda") * tu) * torch.tensor(gate, device="cuda")
    assert np.abs(got - ref.double().cpu().numpy()).max() <= 1e-2 * max(
        1.0, float(ref.abs().max())
    )  # FlashFFTConv's atol on its test shapes


@pytest.mark.parametrize("model", ["hyena_block.onnx", "gfnet_filter.onnx", "fnet_mixing.onnx"])
def test_examples_against_onnxruntime(model: str) -> None:
    import fftc
    from fftc.testing import random_inputs, run_onnxruntime

    path = EXAMPLES / "onnx" / model
    m = fftc.compile(path, target="cuda")
    feeds = random_inputs(path, 0, {})
    ours = m.run(feeds)
    ref = run_onnxruntime(path, feeds)
    for name, expected in ref.items():
        err = np.abs(np.asarray(ours[name]) - expected).max()
        assert err <= 1e-4 * max(1.0, float(np.abs(expected).max())), name


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fft_conv_on_the_monarch_kernel(case: str, dtype: str) -> None:
    """The host test's cases (``test_fft_conv_monarch.py``, same tolerances), on the GPU."""
    from tvm.runtime.vm import VirtualMachine

    from fftc.codegen.build import build
    from fftc.codegen.cuda import local_cuda_arch
    from fftc.codegen.tvm_api import tvm
    from fftc.ir.ops.spectral import FFTConvAttrs, fft_conv_reference
    from fftc.target import parse_target

    shape, n, out, stride, kshape = CASES[case]
    rng = np.random.default_rng(0)
    spectrum = rng.standard_normal(kshape).astype(np.float32)
    attrs = FFTConvAttrs(n, out, stride)
    spec = parse_target(f"cuda:{local_cuda_arch() or 'sm_80'}")
    result = build(fft_conv_graph(shape, attrs, spectrum), spec, dtype=dtype)
    assert result is not None
    assert any("Monarch FFT convolution" in note for note in result.notes)
    x = rng.standard_normal(shape).astype(np.float32)
    dev = tvm.cuda(0)
    (got,) = VirtualMachine(result.executable, dev)["main"](tvm.runtime.tensor(x, dev))
    exact = fft_conv_reference(x.astype(np.float64), spectrum.astype(np.float64), attrs)
    assert relative_error(got.numpy().astype(np.float64), exact) <= TOLERANCE[dtype]


@pytest.mark.parametrize(("dtype", "tolerance"), [("fp16", 3e-3), ("bf16", 2e-2)])
def test_hyena_half_precision_against_onnxruntime(dtype: str, tolerance: float) -> None:
    """Monarch fft_conv and matmuls in half precision (host: ``test_fft_conv_monarch``)."""
    import fftc
    from fftc.api import CompileOptions
    from fftc.testing import random_inputs, run_onnxruntime

    path = EXAMPLES / "onnx" / "hyena_block.onnx"
    m = fftc.compile(path, target="cuda", options=CompileOptions(dtype=dtype))
    feeds = random_inputs(path, 0, {})
    ours = m.run(feeds)
    for name, expected in run_onnxruntime(path, feeds).items():
        got = np.asarray(ours[name], np.float64)
        assert relative_error(got, expected.astype(np.float64)) <= tolerance, name
