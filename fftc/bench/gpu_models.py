"""The ``longconv-gpu`` case in PyTorch: the module exported to ONNX, its inputs made on
the GPU, PyTorch's FFT convolutions (cuFFT) and the float32 reference.

The model is FlashFFTConv's gated convolution with Hyena's skip term::

    y = (irfft(rfft(u * pre, 2L) * K)[..., :L] + D * u) * post

on ``u``, ``pre``, ``post`` of shape (B, H, L) in the case's dtype, with a constant filter
``k`` (H, L) (``K = rfft(k, 2L)``) and ``D`` (H,) in float32.  The ONNX file computes in
float32 between a cast of the inputs and a cast of the output; fftc's ``--dtype`` decides
the precision of its FFTs.  It is exported with a symbolic batch (so the export needs no
(64, H, L) example tensors) and compiled with the batch pinned.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from fftc.bench.suites import Case, Problem
from fftc.bench.torch_models import causal_fft_conv

INPUT_NAMES = ("u", "pre", "post")
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
#: the batch of the example tensors the model is exported with (torch.export treats a
#: batch of 1 as a constant)
EXPORT_BATCH = 2

GpuImpl = Callable[[dict[str, Tensor]], Tensor]


class GatedLongConvGPU(nn.Module):
    """``(causal_fft_conv(u * pre, k) + D * u) * post`` in float32, cast back to u's dtype."""

    def __init__(self, problem: Problem) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.from_numpy(problem.weights["k"].copy()))
        self.D = nn.Parameter(torch.from_numpy(problem.weights["D"].copy()))

    def forward(self, u: Tensor, pre: Tensor, post: Tensor) -> Tensor:
        u32 = u.float()
        y = causal_fft_conv(u32 * pre.float(), self.k) + self.D[:, None] * u32
        return (y * post.float()).to(u.dtype)


def export_gpu_onnx(problem: Problem, path: Path) -> None:
    """Export the case with a symbolic batch (``B``) to ``path``."""
    from fftc.bench.export import export_module

    case = problem.case
    shape = (EXPORT_BATCH, case.param("H"), case.param("L"))
    dtype = TORCH_DTYPES[case.dtype]
    args = tuple(torch.zeros(shape, dtype=dtype) for _ in INPUT_NAMES)
    batch = torch.export.Dim("B")
    dynamic = tuple({0: batch} for _ in INPUT_NAMES)
    export_module(GatedLongConvGPU(problem).eval(), args, INPUT_NAMES, path, dynamic)


def input_shapes(case: Case) -> dict[str, tuple[int, int, int]]:
    """The shapes fftc pins the symbolic batch with."""
    shape = (case.param("B"), case.param("H"), case.param("L"))
    return dict.fromkeys(INPUT_NAMES, shape)


def make_inputs(case: Case, seed: int, device: str = "cuda") -> dict[str, Tensor]:
    """Standard normal ``u``, ``pre``, ``post`` made on ``device`` from ``seed``."""
    generator = torch.Generator(device=device).manual_seed(seed)
    shape = (case.param("B"), case.param("H"), case.param("L"))
    dtype = TORCH_DTYPES[case.dtype]
    inputs = {}
    for name in INPUT_NAMES:
        values = torch.randn(shape, generator=generator, device=device, dtype=torch.float32)
        inputs[name] = values.to(dtype)
        del values
    return inputs


def _fp32_conv(k_f: Tensor, d: Tensor, n: int) -> GpuImpl:
    """The convolution in float32 (inputs cast up), output in float32."""

    def conv(t: dict[str, Tensor]) -> Tensor:
        u = t["u"].float()
        y = torch.fft.irfft(torch.fft.rfft(u * t["pre"].float(), n=2 * n) * k_f, n=2 * n)
        return (y[..., :n] + d * u) * t["post"].float()

    return conv


def _spectrum(problem: Problem, device: str) -> tuple[Tensor, Tensor, int]:
    n = problem.case.param("L")
    k = torch.from_numpy(problem.weights["k"]).to(device)
    k_f = torch.fft.rfft(k, n=2 * n)  # the constant filter's spectrum, complex64
    d = torch.from_numpy(problem.weights["D"]).to(device)[:, None]
    return k_f, d, n


def reference_impl(problem: Problem, device: str = "cuda") -> GpuImpl:
    """PyTorch's float32 FFT convolution of the (already rounded) inputs: the reference."""
    return _fp32_conv(*_spectrum(problem, device))


def torch_impls(problem: Problem, device: str = "cuda") -> dict[str, GpuImpl]:
    """PyTorch's candidates by name, output in the case's dtype.

    ``cuFFT fp32``: every FFT in float32 (half inputs cast up, the output cast back);
    ``cuFFT fp16`` (fp16 only): half-precision FFTs, which PyTorch computes only for
    powers of two (2L is one) and cuFFT has no bfloat16 FFT."""
    k_f, d, n = _spectrum(problem, device)
    dtype = TORCH_DTYPES[problem.case.dtype]
    fp32 = _fp32_conv(k_f, d, n)
    if dtype == torch.float32:
        return {"cuFFT fp32": fp32}
    impls: dict[str, GpuImpl] = {"cuFFT fp32, inputs cast": lambda t: fp32(t).to(dtype)}
    if dtype == torch.float16:
        with warnings.catch_warnings():  # "ComplexHalf support is experimental"
            warnings.simplefilter("ignore")
            k_half, d_half = k_f.to(torch.complex32), d.half()

        def fp16(t: dict[str, Tensor]) -> Tensor:
            u = t["u"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spectrum = torch.fft.rfft(u * t["pre"], n=2 * n) * k_half
                y = torch.fft.irfft(spectrum, n=2 * n)[..., :n]
            return (y + d_half * u) * t["post"]

        impls["cuFFT fp16"] = fp16
    return impls


def max_rel_err(out: Tensor, ref: Tensor, rows: int = 4) -> float:
    """max|out - ref| / max|ref| in float32, ``rows`` batch rows at a time (no second
    full-size float32 copy); inf for a wrong shape or a value that is not finite (as
    :func:`fftc.testing.compare`)."""
    if tuple(out.shape) != tuple(ref.shape):
        return float("inf")
    worst, scale = 0.0, 0.0
    for start in range(0, ref.shape[0], rows):
        part = out[start : start + rows].float()
        if not bool(torch.isfinite(part).all()):
            return float("inf")
        expected = ref[start : start + rows]
        worst = max(worst, float((part - expected).abs().max()))
        scale = max(scale, float(expected.abs().max()))
    if scale > 0:
        return worst / scale
    return 0.0 if worst == 0 else float("inf")
