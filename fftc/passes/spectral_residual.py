"""spectral-fusion's residual rule: ``fft_conv(u, K) + D*u => fft_conv(u, K + D)``.

Adding ``D`` to every bin of the spectrum adds ``D`` times a unit impulse to the
kernel, i.e. ``D * u`` to the convolution's first ``len(u)`` outputs (the
``irfft`` of ``rfft(u) * D`` is ``u`` zero padded).  Hyena's and H3's skip term
``D * u`` then costs nothing: the fused kernel no longer reads ``u`` a second
time in its epilogue (at 768 x 4096 that is 12.6 MB of the kernel's ~75 MB).

Applies when the spectrum and ``D`` are constants, ``D`` is constant along the
convolution's axis (shape ``(..., 1)``) and no larger than the spectrum's rows
(folding a per-channel ``D`` into one spectrum shared by every channel would
multiply the bytes the kernel streams), the convolution keeps its first
``len(u)`` outputs at stride 1, and its result feeds only this addition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir import Node
from fftc.ir.ops.spectral import FFTConvAttrs
from fftc.passes.rewrite import Match, RewriteRule
from fftc.passes.spectral_common import refusal


@dataclass(frozen=True)
class Residual:
    conv: Node
    spectrum: np.ndarray
    d: np.ndarray
    #: the folded spectrum's rows (the spectrum's and D's broadcast)
    rows: tuple[int, ...]

    def folded(self) -> np.ndarray:
        """The spectrum with ``D`` added to every bin (computed once, by the rewrite)."""
        shape = (*self.rows, *self.spectrum.shape[-2:])
        out = np.broadcast_to(self.spectrum.astype(np.float64), shape).copy()
        d = self.d.astype(np.float64).reshape(self.d.shape[:-1] if self.d.ndim else ())
        out[..., 0] += np.broadcast_to(d, self.rows)[..., None]
        return out.astype(self.spectrum.dtype)


def _skip_term(m: Match, name: str | None, x: str) -> np.ndarray | str:
    """``D`` of ``name = x * D`` (either order), ``D`` a constant."""
    node = m.producer(name)
    if node is None or node.op != "mul" or len(node.inputs) != 2:
        return "the other operand is not a product with the convolution's input"
    a, b = node.inputs
    other = b if a == x else a if b == x else None
    if other is None:
        return "the other operand is not a product with the convolution's input"
    value = m.b.const_value(other)
    return "D is not a constant" if value is None else value


def _fold_rows(krows: tuple[int, ...], d: np.ndarray) -> tuple[int, ...] | str:
    """The rows of the spectrum with ``D`` folded in, or why ``D`` cannot fold."""
    if d.ndim and d.shape[-1] != 1:
        return f"D {d.shape} varies along the convolution's axis"
    drows = d.shape[:-1] if d.ndim else ()
    try:
        rows = np.broadcast_shapes(krows, drows)
    except ValueError:
        return f"D {d.shape} does not broadcast to the spectrum's rows {krows}"
    if math.prod(rows) != math.prod(krows):
        return f"D {d.shape} would turn the spectrum's rows {krows} into {rows}"
    return rows


def _residual(m: Match) -> Residual | str:
    found = "no operand is an fft_conv"
    for i, name in enumerate(m.node.inputs):
        conv = m.producer(name)
        if conv is None or conv.op != "fft_conv" or name is None:
            continue
        a = conv.attrs
        assert isinstance(a, FFTConvAttrs)
        x, k = conv.inputs
        assert x is not None
        assert k is not None
        if a.stride != 1 or a.bands or a.out_length != m.b.type_of(x).shape[-1]:
            found = "the convolution does not keep its first len(u) outputs at stride 1"
            continue
        if m.fresh(name):
            found = "the convolution was rewritten in this sweep"
            continue
        if not m.feeds_only(name):
            found = "the convolution's result has other users"
            continue
        if m.b.type_of(name) != m.node.output.type:
            found = "the addition broadcasts the convolution's result"
            continue
        spectrum = m.b.const_value(k)
        if spectrum is None:
            found = "the spectrum is computed at run time"
            continue
        d = _skip_term(m, m.node.inputs[1 - i], x)
        if isinstance(d, str):
            found = d
            continue
        rows = _fold_rows(spectrum.shape[:-2], d)
        if isinstance(rows, str):
            found = rows
            continue
        return Residual(conv, spectrum, d, rows)
    return found


def _check(m: Match) -> str | None:
    return refusal(_residual(m))


def _rewrite(m: Match) -> Sequence[str]:
    found = _residual(m)
    assert not isinstance(found, str)
    conv = found.conv
    spectrum = m.b.constant(found.folded(), f"{conv.name}_spectrum_d")
    return [m.b.node1("fft_conv", [conv.inputs[0], spectrum], conv.attrs, name=conv.name)]


def _has_fft_conv(m: Match) -> bool:
    """A candidate worth a decision: an operand is an fft_conv of the graph being swept."""
    return any(
        n is not None and (p := m.producer(n)) is not None and p.op == "fft_conv" and not m.fresh(n)
        for n in m.node.inputs
    )


RESIDUAL_FFT_CONV = RewriteRule(
    "fft_conv(u, K) + D*u => fft_conv(u, K + D)",
    ("add",),
    _check,
    _rewrite,
    explain=True,
    why=lambda m: "the D*u skip term is D added to every bin: u is not read a second time",
    candidate=_has_fft_conv,
)
