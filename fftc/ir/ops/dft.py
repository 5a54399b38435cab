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
"""

from __future__ import annotations

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

    @property
    def input_extent(self) -> int:
        return self.length // 2 + 1 if (self.inverse and self.onesided) else self.length

    @property
    def output_extent(self) -> int:
        return self.length // 2 + 1 if (self.onesided and not self.inverse) else self.length

    @property
    def output_channels(self) -> int:
        return 1 if (self.inverse and self.onesided) else 2


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
