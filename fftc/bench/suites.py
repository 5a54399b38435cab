"""The benchmark suites: cases, seeded inputs and weights, and float64 NumPy references.

Nothing here needs PyTorch: a :class:`Problem` holds a case's float32 inputs and weights
(generated with NumPy from fixed seeds), and :func:`reference` computes its output in
float64 with NumPy's FFTs, the yardstick for every implementation's numerics.

The CPU suites are fp32 at batch 1.  ``longconv-gpu`` (a CUDA suite, see
:mod:`fftc.bench.gpu_runner`) has one case per sequence length and dtype at batch 64; its
inputs are made on the GPU and its reference is PyTorch's float32 FFT convolution there.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fftc.errors import UsageError

#: the seed of every case's weights (inputs use ``fftc bench --seed``)
WEIGHT_SEED = 0


@dataclass(frozen=True)
class Case:
    """One problem size of a suite, e.g. ``longconv`` ``L=1024``."""

    suite: str
    name: str
    params: tuple[tuple[str, int], ...]
    #: the plot's x value (see :attr:`Suite.size_label`)
    size: float
    #: the precision of the inputs and outputs (``--dtype``): fp32, fp16 or bf16
    dtype: str = "fp32"

    def param(self, key: str) -> int:
        return dict(self.params)[key]

    @property
    def label(self) -> str:
        return f"{self.suite} {self.name}"


@dataclass(frozen=True)
class Suite:
    name: str
    summary: str
    size_label: str
    cases: tuple[Case, ...]
    #: tiny cases for ``--quick`` (smoke tests)
    quick_cases: tuple[Case, ...]
    #: where it runs: "cpu" (llvm targets) or "cuda"
    device: str = "cpu"
    #: opt-in cases, run only when ``--sizes`` names them (too large for most devices)
    extra_cases: tuple[Case, ...] = ()


@dataclass
class Problem:
    """A case's inputs (by ONNX input name) and weights, all float32 (no inputs for
    ``longconv-gpu``: they are made on the GPU)."""

    case: Case
    inputs: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]


def _longconv(h: int, length: int) -> Case:
    return Case("longconv", f"L={length}", (("H", h), ("L", length)), float(length))


#: ``--dtype`` names of the GPU suite, in table order
GPU_DTYPES = ("fp16", "bf16", "fp32")
#: FlashFFTConv's benchmark shape (B, H) and sequence lengths
GPU_BATCH, GPU_HEADS = 64, 768
GPU_LENGTHS = (1024, 4096, 8192, 16384, 32768)
#: opt-in sizes (``--sizes``): 64K .. 1M; 1M needs ~100 GB for u alone in fp16
GPU_EXTRA_LENGTHS = tuple(2**p for p in range(16, 21))


def _longconv_gpu(b: int, h: int, length: int, dtype: str) -> Case:
    params = (("B", b), ("H", h), ("L", length))
    return Case("longconv-gpu", f"L={length} {dtype}", params, float(length), dtype)


def _gpu_cases(b: int, h: int, lengths: Sequence[int]) -> tuple[Case, ...]:
    return tuple(_longconv_gpu(b, h, n, dt) for n in lengths for dt in GPU_DTYPES)


def _dwconv(k: int, c: int, hw: int) -> Case:
    params = (("k", k), ("C", c), ("H", hw), ("W", hw))
    return Case("dwconv2d", f"{k}x{k} C={c} {hw}x{hw}", params, float(c * hw * hw * k * k))


def _gfnet(h: int, w: int, c: int) -> Case:
    return Case("gfnet", f"{h}x{w}x{c}", (("H", h), ("W", w), ("C", c)), float(h * w * c))


def _fnet(seq: int, dim: int) -> Case:
    return Case("fnet", f"{seq}x{dim}", (("S", seq), ("D", dim)), float(seq * dim))


SUITES: dict[str, Suite] = {
    "longconv": Suite(
        "longconv",
        "Hyena-style gated causal long convolution, H=768: "
        "y = g * (irfft(rfft(u) * rfft(k))[:L] + D*u), FFT size 2L",
        "sequence length L",
        tuple(_longconv(768, n) for n in (1024, 4096, 16384, 65536)),
        (_longconv(4, 32), _longconv(4, 48)),
    ),
    "dwconv2d": Suite(
        "dwconv2d",
        "depthwise 2-D convolution (groups=C, 'same' padding, bias), ONNX Conv",
        "multiply-adds of the direct convolution",
        (_dwconv(31, 128, 56), _dwconv(31, 256, 28), _dwconv(31, 512, 14), _dwconv(7, 96, 56)),
        (_dwconv(5, 4, 10),),
    ),
    "gfnet": Suite(
        "gfnet",
        "GFNet global filter: irfft2(rfft2(x) * W) over (H, W), norm='ortho', channels last",
        "elements H*W*C",
        (_gfnet(56, 56, 384),),
        (_gfnet(8, 8, 16),),
    ),
    "fnet": Suite(
        "fnet",
        "FNet token mixing: y = real(fft(fft(x, dim=-1), dim=-2)) of (1, S, D)",
        "elements S*D",
        (_fnet(512, 768),),
        (_fnet(16, 24),),
    ),
    "longconv-gpu": Suite(
        "longconv-gpu",
        "Hyena-style gated causal long convolution on a CUDA GPU, B=64, H=768: "
        "y = (irfft(rfft(u*pre, 2L) * K)[:L] + D*u) * post, fp16/bf16/fp32 inputs and outputs",
        "sequence length L",
        _gpu_cases(GPU_BATCH, GPU_HEADS, GPU_LENGTHS),
        _gpu_cases(4, 32, (1024, 4096)),
        device="cuda",
        extra_cases=_gpu_cases(GPU_BATCH, GPU_HEADS, GPU_EXTRA_LENGTHS),
    ),
}


def select_cases(
    names: Sequence[str],
    quick: bool = False,
    patterns: Sequence[str] = (),
    sizes: Sequence[int] = (),
    dtypes: Sequence[str] = (),
) -> list[Case]:
    """The cases of the named suites, filtered by ``--case`` globs, ``--sizes`` and ``--dtype``.

    A case is kept when its name matches one of ``patterns`` (shell-style, e.g. ``L=1024``
    or ``31x31*``), mentions one of ``sizes`` as a number (``1024`` keeps ``L=1024``,
    ``31`` keeps every 31x31 case; the 16 of ``fp16`` is no size) and has one of
    ``dtypes``; an empty filter keeps everything.  A suite's opt-in cases join only when
    ``sizes`` is given (and must then match it).
    """
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise UsageError(f"unknown suite {unknown[0]!r}; suites are: {', '.join(SUITES)}")
    chosen = dict.fromkeys(names)  # in order, without repeats
    cases: list[Case] = []
    for n in chosen:
        suite = SUITES[n]
        cases += suite.quick_cases if quick else suite.cases
        if sizes and not quick:
            cases += suite.extra_cases
    if dtypes:
        cases = [c for c in cases if c.dtype in dtypes]
        if not cases:
            raise UsageError(f"--dtype {','.join(dtypes)} matches no case of {', '.join(chosen)}")
    if patterns:
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(c.name, pattern) for c in cases):
                known = "; ".join(c.label for c in cases)
                raise UsageError(f"--case {pattern!r} matches no case; cases are: {known}")
        cases = [c for c in cases if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
    if sizes:
        wanted = set(sizes)
        cases = [c for c in cases if wanted & _numbers(c.name)]
        if not cases:
            raise UsageError(f"--sizes {','.join(map(str, sizes))} matches no case")
    return cases


def _numbers(name: str) -> set[int]:
    """The numbers a case name mentions, not counting dtype names (fp16, bf16, fp32)."""
    return {int(t) for t in re.findall(r"\d+", re.sub(r"\b(?:fp|bf)\d+\b", "", name))}


# -- inputs and weights --------------------------------------------------------------------


def _normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(np.float32)


def make_problem(case: Case, seed: int = 0) -> Problem:
    """The case's inputs (from ``seed``) and weights (from :data:`WEIGHT_SEED`)."""
    rng = np.random.default_rng(seed)
    wrng = np.random.default_rng(WEIGHT_SEED)
    p = dict(case.params)
    if case.suite == "longconv":
        h, n = p["H"], p["L"]
        inputs = {"u": _normal(rng, (1, h, n)), "g": _normal(rng, (1, h, n))}
        weights = {"k": _normal(wrng, (h, n), n**-0.5), "D": _normal(wrng, (h,))}
    elif case.suite == "longconv-gpu":  # its inputs are made on the GPU (gpu_models.py)
        h, n = p["H"], p["L"]
        inputs = {}
        weights = {"k": _normal(wrng, (h, n), n**-0.5), "D": _normal(wrng, (h,))}
    elif case.suite == "dwconv2d":
        k, c = p["k"], p["C"]
        inputs = {"x": _normal(rng, (1, c, p["H"], p["W"]))}
        weights = {"weight": _normal(wrng, (c, 1, k, k), 1.0 / k), "bias": _normal(wrng, (c,))}
    elif case.suite == "gfnet":
        h, w, c = p["H"], p["W"], p["C"]
        inputs = {"x": _normal(rng, (1, h, w, c))}
        weights = {"complex_weight": _normal(wrng, (h, w // 2 + 1, c, 2))}
    elif case.suite == "fnet":
        inputs = {"x": _normal(rng, (1, p["S"], p["D"]))}
        weights = {}
    else:
        raise AssertionError(f"no problem generator for suite {case.suite!r}")
    return Problem(case, inputs, weights)


# -- float64 references ----------------------------------------------------------------------


def _ref_longconv(pr: Problem) -> np.ndarray:
    u, g = (pr.inputs[n].astype(np.float64) for n in ("u", "g"))
    k, d = (pr.weights[n].astype(np.float64) for n in ("k", "D"))
    n = u.shape[-1]
    y = np.fft.irfft(np.fft.rfft(u, n=2 * n) * np.fft.rfft(k, n=2 * n), n=2 * n)[..., :n]
    return np.asarray(g * (y + d[:, None] * u))


def _ref_dwconv2d(pr: Problem) -> np.ndarray:
    """Cross-correlation with 'same' padding, as an exact float64 FFT convolution."""
    x = pr.inputs["x"].astype(np.float64)
    w = pr.weights["weight"].astype(np.float64)[:, 0]
    b = pr.weights["bias"].astype(np.float64)
    k, (h, wd) = w.shape[-1], x.shape[-2:]
    s = (h + k - 1, wd + k - 1)
    flipped = w[:, ::-1, ::-1]
    full = np.fft.irfft2(np.fft.rfft2(x, s=s) * np.fft.rfft2(flipped, s=s), s=s)
    p = (k - 1) // 2
    return np.asarray(full[..., p : p + h, p : p + wd] + b[None, :, None, None])


def _ref_gfnet(pr: Problem) -> np.ndarray:
    x = pr.inputs["x"].astype(np.float64)
    cw = pr.weights["complex_weight"].astype(np.float64)
    spectrum = np.fft.rfft2(x, axes=(1, 2), norm="ortho") * (cw[..., 0] + 1j * cw[..., 1])
    return np.asarray(np.fft.irfft2(spectrum, s=x.shape[1:3], axes=(1, 2), norm="ortho"))


def _ref_fnet(pr: Problem) -> np.ndarray:
    x = pr.inputs["x"].astype(np.float64)
    return np.asarray(np.fft.fft(np.fft.fft(x, axis=-1), axis=-2).real)


_REFERENCES: dict[str, Callable[[Problem], np.ndarray]] = {
    "longconv": _ref_longconv,
    "dwconv2d": _ref_dwconv2d,
    "gfnet": _ref_gfnet,
    "fnet": _ref_fnet,
}


def reference(problem: Problem) -> np.ndarray:
    """The case's output computed in float64 with NumPy."""
    return _REFERENCES[problem.case.suite](problem)
