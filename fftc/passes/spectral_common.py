"""Matching helpers shared by the spectral-fusion rules (``spectral_fusion``,
``spectral_fusion_2d``): DFT norms, real signals, scalar factors."""

from __future__ import annotations

import math

import numpy as np

from fftc.ir import Node
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.movement import PadAttrs, SliceAttrs
from fftc.passes.rewrite import Match


def whole_leading_axes(a: SliceAttrs, shape: tuple[int, ...]) -> bool:
    """Whether the slice takes every axis but the last whole."""
    lead = zip(a.starts[:-1], a.ends[:-1], a.steps[:-1], shape[:-1], strict=True)
    return all((s, e, st) == (0, d, 1) for s, e, st, d in lead)


def dft_scale(a: DFTAttrs) -> float:
    n = a.length
    unscaled = "forward" if a.inverse else "backward"
    if a.norm == unscaled:
        return 1.0
    return 1.0 / math.sqrt(n) if a.norm == "ortho" else 1.0 / n


def real_signal(m: Match, name: str | None) -> str | None:
    """The real signal behind ``reshape((..., L) -> (..., L, 1))`` and an end zero pad."""
    node = m.producer(name)
    if node is None or node.op != "reshape":
        return None
    src = node.inputs[0] or ""
    shape = m.b.type_of(src).shape
    if node.output.type.shape != (*shape, 1):
        return None
    pad = m.producer(src)
    if pad is not None and pad.op == "pad" and isinstance(pad.attrs, PadAttrs):
        a, rank = pad.attrs, len(shape)
        only_end = all(p == 0 for p in a.pads[: rank + rank - 1])
        if only_end and a.mode == "constant" and a.value == 0.0:
            return pad.inputs[0]
    return src


def unscaled(m: Match, name: str | None) -> tuple[str | None, float]:
    """The tensor behind multiplications and divisions of ``name`` by scalar constants
    (the ``ortho`` norm some exporters write out), and their product."""
    factor = 1.0
    node = m.producer(name)
    while node is not None and node.op in ("mul", "div") and len(node.inputs) == 2:
        value = m.b.const_value(node.inputs[1])
        if value is None or value.size != 1 or not np.isfinite(value).all():
            break
        scalar = float(value.ravel()[0])
        if scalar == 0.0:
            break
        factor = factor * scalar if node.op == "mul" else factor / scalar
        name = node.inputs[0]
        node = m.producer(name)
    return name, factor


def through_scales(m: Match, name: str | None) -> tuple[Node | None, float]:
    """The producer of the tensor behind :func:`_unscaled`, and the factor."""
    inner, factor = unscaled(m, name)
    return m.producer(inner), factor


def dft_attrs(node: Node | None, *, inverse: bool, onesided: bool, axis: int) -> DFTAttrs | None:
    if node is None or node.op != "dft":
        return None
    a = node.attrs
    assert isinstance(a, DFTAttrs)
    return a if (a.inverse, a.onesided, a.axis) == (inverse, onesided, axis) else None


def scaled_spectrum(m: Match, spectrum: str, scale: float) -> str:
    """``spectrum * scale`` (folded into a constant spectrum)."""
    b, name = m.b, m.node.name
    if abs(scale - 1.0) <= 1e-12:
        return spectrum
    value = b.const_value(spectrum)
    if value is not None:
        return b.constant((value * scale).astype(value.dtype), f"{name}_spectrum")
    dtype = b.type_of(spectrum).dtype.numpy()
    factor = b.constant(np.asarray(scale, dtype=dtype), f"{name}_scale")
    return b.node1("mul", [spectrum, factor], name=name)


def refusal(found: object) -> str | None:
    """A rule's check from its matcher's result: the reason string, or None (a match)."""
    return found if isinstance(found, str) else None
