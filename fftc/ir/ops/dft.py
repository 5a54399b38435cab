"""The DFT family: one ``dft`` op with ONNX's complex-as-trailing-dim convention.

Input ``(..., c)`` with ``c == 1`` (real) or ``c == 2`` (complex, re/im).  The
transform runs along ``axis`` (never the last dim) with ``length`` points:

==========================  ===============================  ==========================
forward, onesided=False     ``axis`` extent == length          complex, extent length
forward, onesided=True      real input, extent == length       complex, length//2+1
inverse, onesided=False     ``axis`` extent == length          complex, extent length
inverse, onesided=True      complex, extent length//2+1        real (c=1), extent length
==========================  ===============================  ==========================

``norm`` is NumPy's: "backward" (inverse scaled by 1/n, ONNX's only mode),
"ortho" (both by 1/sqrt(n)), "forward" (forward scaled by 1/n).  Zero padding
and truncation to ``length`` are explicit ``pad``/``slice`` ops before a dft.
STFT is expressed with framing ops plus a dft.

``factors`` (set by the ``fft-to-monarch`` pass; ``()``: not planned, lowering
chooses) are the radices of the core complex FFT, stage by stage: its length is
``length``, or ``length // 2`` for a one-sided transform of even length (the real
half-length trick).  Factors that multiply to more than that, at least
``2 * core - 1``, are the radices of Bluestein's padded FFT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fftc.ir.graph import Attrs, IRError
from fftc.ir.ops.common import arr, need
from fftc.ir.ops.registry import OpDef, OpKind, register_op
from fftc.ir.types import TensorType

NORMS = ("backward", "ortho", "forward")


@dataclass(frozen=True)
class DFTAttrs(Attrs):
    axis: int
    length: int
    inverse: bool = False
    onesided: bool = False
    norm: str = "backward"
    factors: tuple[int, ...] = ()

    @property
    def core_lengths(self) -> tuple[int, ...]:
        """The core FFT's possible lengths: ``length // 2`` first when the real
        half-length trick applies, then ``length``."""
        if self.onesided and self.length % 2 == 0:
            return (self.length // 2, self.length)
        return (self.length,)

    @property
    def input_extent(self) -> int:
        return self.length // 2 + 1 if (self.inverse and self.onesided) else self.length

    @property
    def output_extent(self) -> int:
        return self.length // 2 + 1 if (self.onesided and not self.inverse) else self.length

    @property
    def output_channels(self) -> int:
        return 1 if (self.inverse and self.onesided) else 2


def core_for_factors(cores: Sequence[int], factors: Sequence[int]) -> int | None:
    """The core length ``factors`` plan, from ``cores`` (the candidates, preferred
    first): one they multiply to (mixed radix), else the first whose Bluestein
    padding they can be (product ``>= 2 * core - 1``); None if neither."""
    product = math.prod(factors)
    for core in cores:
        if product == core:
            return core
    for core in cores:
        if product >= 2 * core - 1:
            return core
    return None


def check_factors(op: str, factors: Sequence[int], cores: Sequence[int], what: str = "") -> None:
    """Raise an :class:`IRError` naming ``op`` unless ``factors`` is ``()`` (not
    planned) or radices of a core FFT of one of ``cores`` (see the module docstring)."""
    if not factors:
        return
    where = f"{op}: factors{what} {list(factors)}"
    if any(isinstance(f, bool) or not isinstance(f, int) or f < 2 for f in factors):
        raise IRError(f"{where}: every factor must be an integer >= 2")
    if core_for_factors(cores, factors) is None:
        lengths = " or ".join(str(c) for c in cores)
        raise IRError(
            f"{where} multiply to {math.prod(factors)}, not the core FFT length {lengths} "
            f"(nor >= {2 * min(cores) - 1} for Bluestein's padded FFT)"
        )


def _dft_infer(ts: Sequence[TensorType | None], a: Attrs) -> list[TensorType]:
    assert isinstance(a, DFTAttrs)
    x = need(ts[0], "x")
    if not x.dtype.is_float:
        raise IRError(f"dft: input must be floating point, got {x.dtype.value}")
    if x.rank < 2 or x.shape[-1] not in (1, 2):
        raise IRError(f"dft: input must end in a dim of 1 (real) or 2 (complex), got {x}")
    if not 0 <= a.axis < x.rank - 1:
        raise IRError(f"dft: axis {a.axis} must be a signal axis of {x} (not the last)")
    if a.length < 1:
        raise IRError(f"dft: length must be >= 1, got {a.length}")
    if a.norm not in NORMS:
        raise IRError(f"dft: norm must be one of {NORMS}, got {a.norm!r}")
    check_factors("dft", a.factors, a.core_lengths)
    if a.onesided and not a.inverse and x.shape[-1] != 1:
        raise IRError("dft: a one-sided forward transform (rfft) needs real input")
    if a.onesided and a.inverse and x.shape[-1] != 2:
        raise IRError("dft: a one-sided inverse transform (irfft) needs complex input")
    if x.shape[a.axis] != a.input_extent:
        raise IRError(
            f"dft: axis {a.axis} of {x} must have extent {a.input_extent} for length {a.length}"
        )
    shape = list(x.shape)
    shape[a.axis] = a.output_extent
    shape[-1] = a.output_channels
    return [x.with_shape(tuple(shape))]


def dft_reference(x: np.ndarray, a: DFTAttrs) -> np.ndarray:
    """NumPy's FFT in float64 (complex128), returned in the input's dtype."""
    x64 = x.astype(np.float64)
    sig = x64[..., 0] if x.shape[-1] == 1 else x64[..., 0] + 1j * x64[..., 1]
    n, ax = a.length, a.axis
    norm: Any = a.norm  # one of NORMS (checked by the shape rule)
    if a.inverse and a.onesided:
        real = np.fft.irfft(sig, n=n, axis=ax, norm=norm)
        return real[..., None].astype(x.dtype)
    if a.inverse:
        y = np.fft.ifft(sig, n=n, axis=ax, norm=norm)
    elif a.onesided:
        y = np.fft.rfft(sig.real, n=n, axis=ax, norm=norm)
    else:
        y = np.fft.fft(sig, n=n, axis=ax, norm=norm)
    return np.stack([y.real, y.imag], axis=-1).astype(x.dtype)


def _dft_ref(xs: Sequence[np.ndarray | None], a: Attrs) -> list[np.ndarray]:
    assert isinstance(a, DFTAttrs)
    return [dft_reference(arr(xs[0]), a)]


register_op(
    OpDef(
        "dft",
        ("x",),
        _dft_infer,
        _dft_ref,
        DFTAttrs,
        kind=OpKind.spectral,
        doc="Discrete Fourier transform along one axis (see module docstring).",
    )
)
