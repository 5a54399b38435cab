"""sparsity: frequency-sparse FFT convolutions skip the bins their spectrum drops.

For every ``fft_conv`` whose spectrum is a constant, the one-sided spectrum's
``h + 1`` bins (``h = length // 2``) are cut into :data:`BLOCKS` frequency
blocks (bins ``[b*h//64, (b+1)*h//64)``, the last one also holding bin ``h``);
the blocks kept are recorded as the op's ``bands`` (kept bin ranges), and
the kernel skips the products of the others (``fftc.kernels.fft_conv_bands``).

* **Detected**: a block is zero when, for every channel, its bins are at most
  ``eps(dtype)`` times the channel's largest bin (below what the dtype
  resolves next to it): spectral mixers with truncated modes, masked
  low-pass filters.  Exact: the output changes by rounding only.
* **freq-sparsity R** (pass option ``freq_sparsity``, ``--freq-sparsity``;
  ``0 <= R < 1``, default 0): also the ``floor(R * 64)`` blocks of least
  energy (``sum over channels of |K|^2``, interior bins counted twice as in
  Parseval) are dropped.  An approximation: each node's decision reports the
  expected relative L2 output error for a white-noise input, worst channel
  (:func:`expected_error`), and a warning sums them up.

Dropped bins are also set to exactly zero in the new spectrum constant, so a
lowering that ignores ``bands`` computes the same result.

Why 64 blocks: ``R`` then moves in steps of 1/64 (FlashFFTConv's 79% is 50
blocks), and for every length with ``64 | h`` (powers of two from 128) the
block edges are multiples of ``h/64``, on which the kernel's pack blocks fall
exactly (no masked bins).  The kernel's skip is per block of bins whatever
the plan, so the choice does not depend on the FFT factors chosen later.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fftc.errors import UsageError
from fftc.ir import Graph, GraphBuilder, Node
from fftc.ir.graph_utils import remove_dead
from fftc.ir.ops.spectral import FFTConvAttrs, complex_of
from fftc.kernels.fft_conv_bands import ranges_of
from fftc.passes.base import PassContext

log = logging.getLogger("fftc.passes")

PASS_NAME = "sparsity"
#: frequency blocks per spectrum (see the module docstring)
BLOCKS = 64


def freq_sparsity(options: Mapping[str, Any]) -> float:
    """The ``freq_sparsity`` pass option, checked: a number ``0 <= R < 1``."""
    value = options.get("freq_sparsity", 0.0)
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        ratio = math.nan
    if isinstance(value, bool) or not 0.0 <= ratio < 1.0:
        raise UsageError(
            f"--freq-sparsity: must be a number with 0 <= R < 1 (the fraction of "
            f"frequency blocks to zero), got {value!r}"
        )
    return ratio


def block_edges(half: int) -> list[int]:
    """The first bin of each frequency block, then ``half + 1``: ``BLOCKS`` blocks
    (fewer for short spectra) over bins ``0..half``."""
    count = min(BLOCKS, half)
    return [b * half // count for b in range(count)] + [half + 1]


def _bin_weights(half: int) -> np.ndarray:
    """Parseval's weights of the one-sided bins: 2 for the interior, 1 for 0 and ``half``."""
    weights = np.full(half + 1, 2.0)
    weights[[0, half]] = 1.0
    return weights


def zero_blocks(spectrum: np.ndarray, edges: list[int], eps: float) -> np.ndarray:
    """Which blocks are zero in every channel (``spectrum``: complex ``(C, bins)``)."""
    magnitude = np.abs(spectrum)
    floor = eps * magnitude.max(axis=1, keepdims=True)
    small = magnitude <= floor
    return np.array([small[:, lo:hi].all() for lo, hi in itertools.pairwise(edges)])


def expected_error(spectrum: np.ndarray, kept: np.ndarray, a: FFTConvAttrs, size: int) -> float:
    """The expected relative L2 error of the outputs when the bins outside ``kept``
    are dropped, for a white-noise input of ``size`` samples, worst channel.

    With ``g`` the circular impulse response (``irfft`` of a spectrum), output
    ``t`` has ``E y[t]^2 = s^2 * sum_{j < size} g[(t - j) mod n]^2``; the ratio of
    those sums over the kept outputs, for the dropped part of the spectrum and for
    the whole, is the squared error (``spectrum``: complex ``(C, bins)``)."""
    n = a.length
    box = np.fft.rfft(np.arange(n) < size)
    outputs = np.arange(a.out_length) * a.stride

    def power(spec: np.ndarray) -> np.ndarray:
        response = np.fft.irfft(spec, n=n, axis=-1)
        windowed = np.fft.irfft(np.fft.rfft(response**2, axis=-1) * box, n=n, axis=-1)
        return np.maximum(windowed[:, outputs], 0.0).sum(axis=1)

    total = power(spectrum)
    dropped = power(np.where(kept, 0.0, spectrum))
    ratio = np.divide(dropped, total, out=np.zeros_like(total), where=total > 0)
    return float(np.sqrt(ratio.max(initial=0.0)))


def _describe(bands: tuple[tuple[int, int], ...], bins: int) -> str:
    shown = ", ".join(f"[{lo}, {hi})" for lo, hi in bands[:3])
    more = f", ... ({len(bands)} ranges)" if len(bands) > 3 else ""
    return f"kept bins {shown}{more} of {bins}"


@dataclass(frozen=True)
class Dropped:
    """What the pass did to one node, for its decision and the summary."""

    blocks: int  # dropped blocks
    detected: int  # of those, zero in the constant
    total: int
    error: float  # expected relative output error (white noise, worst channel)


@dataclass(frozen=True)
class Sparsity:
    """``fft_conv(x, K) => fft_conv(x, K masked){bands}`` (see the module docstring)."""

    name: str = PASS_NAME
    doc: str = "fft_conv with constant spectra: skip zero frequency blocks (--freq-sparsity: more)"
    #: after every pass that makes fft_conv ops
    requires: frozenset[str] = frozenset({"spectral-fused", "fft-conv"})
    ensures: frozenset[str] = frozenset({"freq-bands"})

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        ratio = freq_sparsity(ctx.options)
        b = GraphBuilder.from_graph(graph)
        results: list[Dropped] = []
        for node in graph.nodes:
            reason = self._check(node, b)
            if reason is not None:
                if node.op == "fft_conv":
                    ctx.decide(self.name, node.label, "dense spectrum", reason)
                b.append(node)
                continue
            b.append(self._rewrite(node, b, ratio, ctx, results))
        if ratio > 0:
            _summary(ratio, results)
        if not any(r.blocks for r in results):
            return graph
        return remove_dead(b.build(list(graph.outputs), graph.output_names))

    def _check(self, node: Node, b: GraphBuilder) -> str | None:
        if node.op != "fft_conv":
            return "not an fft_conv"
        assert isinstance(node.attrs, FFTConvAttrs)
        if node.attrs.bands:
            return "bands set before this pass"
        if b.const_value(node.inputs[1]) is None:
            return "the spectrum is computed at run time"
        return None

    def _rewrite(self, node: Node, b: GraphBuilder, ratio: float, ctx: PassContext,
                 results: list[Dropped]) -> Node:  # fmt: skip
        a = node.attrs
        assert isinstance(a, FFTConvAttrs)
        value = b.const_value(node.inputs[1])
        assert value is not None
        half = a.length // 2
        spectrum = complex_of(value).reshape(-1, half + 1)
        edges = block_edges(half)
        count = len(edges) - 1
        zero = zero_blocks(spectrum, edges, float(np.finfo(value.dtype).eps))
        drop = zero.copy()
        if ratio > 0:
            weights = _bin_weights(half)
            energy = (np.abs(spectrum) ** 2 * weights).sum(axis=0)
            per_block = np.add.reduceat(energy, edges[:-1])
            drop[np.argsort(per_block, kind="stable")[: int(ratio * count)]] = True
        kept = np.repeat(~drop, np.diff(edges))
        dropped, detected = int(drop.sum()), int(zero.sum())
        if dropped == 0 or dropped == count:
            why = "no frequency block is zero" if dropped == 0 else "every bin is zero"
            ctx.decide(self.name, node.label, "dense spectrum", f"{why} ({count} blocks)")
            return node
        x = b.type_of(node.inputs[0] or "")
        error = expected_error(spectrum, kept, a, x.shape[-1])
        results.append(Dropped(dropped, detected, count, error))
        bands = ranges_of(kept)
        what = _describe(bands, half + 1)
        if ratio == 0:
            choice = f"{dropped} of {count} frequency blocks zero (detected): skipped"
            reason = f"{what}; the rest is below {value.dtype} resolution (est. error {error:.2g})"
        else:
            choice = f"freq-sparsity {ratio:g}: {dropped} of {count} frequency blocks zeroed"
            reason = (
                f"{detected} of them zero already; est. output error {error:.2g} (relative L2 "
                f"for a white-noise input, worst channel); {what}"
            )
        if ctx.options.get("target_kind") == "cuda":  # the Monarch kernel has no band skip:
            bands = ()  # the zeros stay in the spectrum, the tensor-core path stays open
            reason += "; cuda: zeroed in the spectrum, not skipped"
        ctx.decide(self.name, node.label, choice, reason)
        masked = np.where(kept[:, None], value, 0).astype(value.dtype)
        k = b.constant(masked, f"{node.name or 'fft_conv'}_spectrum")
        return node.replace(inputs=(node.inputs[0], k), attrs=a.replace(bands=bands))


def _summary(ratio: float, results: list[Dropped]) -> None:
    """The warning that says what ``--freq-sparsity`` cost (every compile shows it)."""
    if not results:
        log.warning("freq-sparsity %g: no fft_conv with a constant spectrum; nothing zeroed", ratio)
        return
    blocks = sum(r.blocks for r in results)
    total = sum(r.total for r in results)
    log.warning(
        "freq-sparsity %g: zeroed %d of %d frequency blocks in %d fft_conv node(s); est. "
        "output error up to %.2g (relative L2 for a white-noise input; per node: fftc "
        "inspect --explain)", ratio, blocks, total, len(results), max(r.error for r in results),
    )  # fmt: skip


SPARSITY = Sparsity()
