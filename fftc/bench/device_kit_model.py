"""The device kit's model: FlashFFTConv's gated convolution with the filter's spectrum
as an input, exported to ONNX and compiled with fftc into one artifact per (L, dtype).

The math is :mod:`fftc.bench.gpu_models`'s::

    y = (irfft(rfft(u * pre, 2L) * K)[..., :L] + D * u) * post

but ``K``, the one-sided spectrum of the filter, (H, L+1, 2) float32 (complex as a
trailing pair), is a model input, not a constant: a constant spectrum at L=32K is 200 MB
of library, over what the device tool may carry; fftc's CUDA ``fft_conv`` reads run-time
spectra as it reads constant ones.  ``D`` (H,) stays a constant (its values are stored
in the kit for the runner's reference).
"""

from __future__ import annotations

import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fftc.errors import CompileError, FftcError

if TYPE_CHECKING:
    from torch import Tensor

    from fftc.bench.suites import Problem

#: the ONNX inputs, in order; ``K`` is the filter's one-sided spectrum
INPUT_NAMES = ("u", "pre", "post", "K")
#: the gated inputs of shape (B, H, L)
SIGNAL_NAMES = ("u", "pre", "post")
#: bump when the model or its export changes (invalidates the cached ONNX files)
MODEL_VERSION = 1
#: the seed of ``D`` (the filter itself is made by the runner, on the device)
D_SEED = 0
#: the batch of the example tensors (torch.export treats a batch of 1 as a constant)
EXPORT_BATCH = 2


#: the kit variant with the Monarch kernel's stages as separate kernels
STAGED = "staged"


@dataclass(frozen=True)
class KitCase:
    """One artifact of the kit: sequence length and dtype at the kit's (B, H)."""

    length: int
    dtype: str
    batch: int
    heads: int
    #: "" (the default schedule) or :data:`STAGED` (the Monarch kernel with ``fused=False``)
    variant: str = ""

    @property
    def label(self) -> str:
        return f"L={self.length} {self.dtype}" + (f" {self.variant}" if self.variant else "")

    @property
    def slug(self) -> str:
        """The artifact's file stem, e.g. ``L1024-fp16`` (``L1024-fp16-staged``)."""
        return f"L{self.length}-{self.dtype}" + (f"-{self.variant}" if self.variant else "")

    def knobs(self) -> dict[str, bool]:
        """CUDA schedule knob overrides of this variant."""
        return {"fused": False} if self.variant == STAGED else {}

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """What fftc pins the ONNX file's shapes to (its batch is symbolic)."""
        signal = (self.batch, self.heads, self.length)
        return {**dict.fromkeys(SIGNAL_NAMES, signal), "K": (self.heads, self.length + 1, 2)}


@dataclass
class BuiltArtifact:
    """An artifact written into the kit, with what the kit's index records of it."""

    case: KitCase
    path: Path
    compile_s: float
    export_s: float
    decisions: list[str] = field(default_factory=list)


def skip_weights(heads: int) -> np.ndarray:
    """``D`` (H,), standard normal float32 from :data:`D_SEED`."""
    return np.random.default_rng(D_SEED).standard_normal(heads, dtype=np.float32)


def _torch_dtype(name: str) -> object:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]


def _module(d: np.ndarray) -> object:
    """The PyTorch module (defined here so that importing this file needs no torch)."""
    import torch
    from torch import nn

    class GatedLongConvSpectrum(nn.Module):
        """``(irfft(rfft(u*pre, 2L) * K)[..., :L] + D*u) * post`` in float32, cast back
        to u's dtype; ``K`` (H, L+1, 2) is an input."""

        def __init__(self) -> None:
            super().__init__()
            self.D = nn.Parameter(torch.from_numpy(d.copy()))

        def forward(self, u: Tensor, pre: Tensor, post: Tensor, spectrum: Tensor) -> Tensor:
            u32 = u.float()
            n = u.shape[-1]
            product = torch.fft.rfft(u32 * pre.float(), n=2 * n) * torch.view_as_complex(spectrum)
            y = torch.fft.irfft(product, n=2 * n)[..., :n]
            return ((y + self.D[:, None] * u32) * post.float()).to(u.dtype)

    return GatedLongConvSpectrum().eval()


def export_kit_onnx(problem: Problem, path: Path) -> None:
    """Export the case with a symbolic batch (``B``) of u, pre and post to ``path``."""
    import torch

    from fftc.bench.export import export_module

    heads, length = problem.case.param("H"), problem.case.param("L")
    dtype = _torch_dtype(problem.case.dtype)
    signal = tuple(torch.zeros((EXPORT_BATCH, heads, length), dtype=dtype) for _ in SIGNAL_NAMES)
    spectrum = torch.zeros((heads, length + 1, 2))
    batch = torch.export.Dim("B")
    dynamic = (*({0: batch} for _ in SIGNAL_NAMES), None)
    export_module(_module(problem.weights["D"]), (*signal, spectrum), INPUT_NAMES, path, dynamic)


def _problem(case: KitCase, d: np.ndarray) -> Problem:
    """The export cache's key: the kit's own suite name, so that the constant-filter
    files of ``longconv-gpu`` never collide with these."""
    from fftc.bench.suites import Case, Problem

    params = (("H", case.heads), ("L", case.length), ("model_version", MODEL_VERSION))
    kit_case = Case("device-kit", case.label, params, float(case.length), case.dtype)
    return Problem(kit_case, {}, {"D": d})


def build_artifact(case: KitCase, target: str, out: Path, cache_dir: Path) -> BuiltArtifact:
    """Export (or reuse from ``cache_dir``) and compile ``case`` for ``target``; write the
    ``.fftc`` artifact to ``out``.  cuda targets compute in the case's dtype; llvm
    (the host tests) computes in fp32 with the case's dtype at the inputs and output."""
    import fftc
    from fftc.api import CompileOptions
    from fftc.bench.export import cached_model
    from fftc.codegen.cuda_schedule import cuda_knobs

    t0 = time.perf_counter()
    try:
        model, _cached = cached_model(
            _problem(case, skip_weights(case.heads)), cache_dir, export_kit_onnx
        )
    except Exception as err:
        raise CompileError(f"{case.label}: the ONNX export failed: {_first_line(err)}") from err
    export_s = time.perf_counter() - t0
    cuda = target.startswith("cuda")
    options = CompileOptions(input_shapes=case.input_shapes(), dtype=case.dtype if cuda else "fp32")
    t0 = time.perf_counter()
    try:
        with cuda_knobs(case.knobs()):
            module = fftc.compile(model, target=target, options=options)
    except FftcError as err:
        raise type(err)(f"{case.label}: {err}") from err
    compile_s = time.perf_counter() - t0
    module.export(out, force=True)
    if cuda:
        check_fatbin(out, case)
    return BuiltArtifact(case, out, compile_s, export_s, list(module.decisions))


def check_fatbin(artifact: Path, case: KitCase) -> None:
    """The artifact's library must hold GPU machine code (the fatbin magic), never only
    CUDA source: the device has no nvcc and no TVM compiler to build it there.
    (``fftc.compile`` checks this too; the kit checks the file it ships.)"""
    from fftc.codegen.cuda import FATBIN_MAGIC

    with zipfile.ZipFile(artifact) as zf:
        library = zf.read("module.so")
    if FATBIN_MAGIC not in library:
        raise CompileError(f"{case.label}: {artifact.name} holds no fatbin (no GPU code)")


def on_monarch(decisions: list[str]) -> bool:
    """Whether fftc put the convolution on its tensor-core/CUDA-core Monarch kernel."""
    return any(
        d.startswith("[lower] fft_conv") and "Monarch FFT convolution" in d for d in decisions
    )


def fused_monarch(decisions: list[str]) -> bool:
    """Whether the Monarch convolution got the fused schedule (the schedule line): one
    CUDA kernel (N <= 4096), or three or four for the outer plan (N > 4096)."""
    fused = re.compile(r"monarch\.fused:(one kernel|\d+ kernels) \(")
    return any(d.startswith("[schedule]") and fused.search(d) for d in decisions)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
