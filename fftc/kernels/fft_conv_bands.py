"""Frequency-sparse FFT convolution: the work the fused kernel skips for ``bands``.

``fft_conv``'s ``bands`` are the kept bin ranges of the one-sided spectrum
(bins ``0..h``, ``h = n/2``); the product ``P[k] = X[k]*K[k]/n`` is zero for
every other bin.  The kernel (:mod:`.fft_conv`) forms the products in its
pack block, which also does the inverse real FFT's pre-processing: entry ``k``
(``k < h``) combines ``P[k]`` and ``P[h-k]`` and reads ``X`` (two forward
outputs each) and the spectrum for both.  With bands the pack is split into
blocks of bins (annotation :data:`BLOCKS_ATTR`; the CPU template unrolls over
them), and each block builds only the products its bins keep: none (a store
of zeros: no load of ``X``, the spectrum or the tables), ``P[k]`` or
``P[h-k]`` alone, or both; a block kept in part masks its dropped bins.  The
blocks follow the band edges (:func:`pack_blocks`), so only the blocks at a
mirrored edge (``h - k`` is off by one bin from the edges) are masked.

That is the whole gain (768 x 4096 causal, one core: 1.40x with half the bins
dropped, 1.57x with 79%; docs/benchmarks.md): the block streams the spectrum
(``rows x (h+1)`` complex values, 25 MB there) and does two products per
entry.  Skipping the butterflies of the inverse core's first stage whose
inputs are then zero, and the forward core's last-stage outputs no kept bin
reads (the Stockham stages can drop known-zero inputs at build time, as for
the zero-padded input), was tried too: no measurable gain (79%: min 6.74 vs
6.89 ms of 21 alternating rounds), so the stages stay dense.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fftc.codegen.tvm_api import te, tirx
from fftc.ir.ops.spectral import band_mask

from .fft.butterfly import Cx, PrimExpr, cadd, cmul, conj, csub
from .fft.stockham import Source, part

#: the pack block's annotation: how many blocks of bins it is split into
BLOCKS_ATTR = "fftc.fft_conv.blocks"
#: at most this many blocks (unrolled copies of the pack loop; 768 x 4096 causal, bins
#: [0, 832) kept: 64 blocks build in 9 s, 16 in 3 s (the dense kernel: 1.5 s), and ran
#: 7.12 vs 7.50 ms (min of 15, a busy machine))
MAX_PACK_BLOCKS = 32
#: at most this many different block bodies (a select chain each copy folds at build
#: time: 64 blocks of 64 bodies took 8 minutes to build)
MAX_PACK_RUNS = 8

Ranges = tuple[tuple[int, int], ...]


def kept_mask(bands: Sequence[tuple[int, int]], half: int) -> np.ndarray:
    """Which of the ``half + 1`` bins are kept (every one for no ``bands``)."""
    return band_mask(tuple(bands), half + 1) > 0


def ranges_of(mask: np.ndarray) -> Ranges:
    """The ``[lo, hi)`` runs of ``True`` in ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return tuple((int(lo), int(hi)) for lo, hi in zip(edges[::2], edges[1::2], strict=True))


def _status(bins: np.ndarray) -> int:
    """0: no bin kept, 1: every bin, 2: some."""
    return 1 if bins.all() else 2 if bins.any() else 0


def pack_runs(mask: np.ndarray, blocks: int) -> list[tuple[int, int]]:
    """The pack's ``blocks`` blocks grouped into runs ``[start, stop)`` of blocks with
    the same body: which of ``P[k]``, ``P[h-k]`` they build (a block kept in part
    is a run of its own: its mask is its own)."""
    half = len(mask) - 1
    size = half // blocks
    kinds: list[object] = []
    for t in range(blocks):
        low = np.arange(t * size, (t + 1) * size)
        statuses = (_status(mask[low]), _status(mask[half - low]))
        kinds.append((t, statuses) if 2 in statuses else statuses)
    runs: list[tuple[int, int]] = []
    for t, kind in enumerate(kinds):
        if runs and kinds[runs[-1][0]] == kind:
            runs[-1] = (runs[-1][0], t + 1)
        else:
            runs.append((t, t + 1))
    return runs


def pack_blocks(mask: np.ndarray) -> int:
    """How many equal blocks the pack is split into: the fewest that put every band
    edge on a block boundary, fewer where that needs more than
    :data:`MAX_PACK_BLOCKS` blocks or more than :data:`MAX_PACK_RUNS` different
    bodies (blocks an edge then falls into are masked)."""
    half = len(mask) - 1
    edges = np.flatnonzero(mask[1:half] != mask[: half - 1]) + 1
    aligned = half // math.gcd(half, *(int(e) for e in edges))
    for blocks in range(min(aligned, MAX_PACK_BLOCKS), 0, -1):
        if half % blocks == 0 and len(pack_runs(mask, blocks)) <= MAX_PACK_RUNS:
            return blocks
    return 1


def _within(k: PrimExpr, ranges: Ranges) -> PrimExpr:
    cond = None
    for lo, hi in ranges:
        term = tirx.And(lo <= k, k < hi) if hi - lo > 1 else k == lo
        cond = term if cond is None else tirx.Or(cond, term)
    assert cond is not None
    return cond


def _term(product: Source, b: PrimExpr, k: PrimExpr, bins: np.ndarray, first: int,
          dtype: str) -> Cx:  # fmt: skip
    """``P[k]`` over a block whose bins ``first + i`` are kept where ``bins[i]``:
    absent (an exact zero), whole, or masked."""
    if not bins.any():
        return Cx(None, None)
    value = product(b, k)
    if bins.all():
        return value
    inside = _within(k, tuple((first + lo, first + hi) for lo, hi in ranges_of(bins)))
    zero = tirx.const(0.0, dtype)
    return Cx(tirx.Select(inside, part(value.re, dtype), zero),
              tirx.Select(inside, part(value.im, dtype), zero))  # fmt: skip


def banded_irfft_source(
    product: Source, mask: np.ndarray, table: te.Tensor, dtype: str, blocks: int
) -> Source:
    """``realfft.irfft_source`` of the products, run by run (:func:`pack_runs`):
    each run of blocks builds only the products its bins keep."""
    half = len(mask) - 1
    size = half // blocks
    zero = tirx.const(0.0, dtype)

    def drop_imag(value: Cx, k: PrimExpr) -> Cx:
        return Cx(value.re, None if value.im is None else tirx.Select(k == 0, zero, value.im))

    def run_value(b: PrimExpr, k: PrimExpr, start: int, stop: int) -> Cx:
        low = np.arange(start * size, stop * size)
        x = _term(product, b, k, mask[low], start * size, dtype)
        high = half - low[::-1]  # the mirrored bins h - k, ascending
        mirror = conj(_term(product, b, half - k, mask[high], int(high[0]), dtype))
        if start == 0:  # X[0] and X[h] enter only at k = 0: drop their imaginary parts
            x, mirror = drop_imag(x, k), drop_imag(mirror, k)
        return cadd(cadd(x, mirror), cmul(Cx(table[0, k], table[1, k]), csub(x, mirror)))

    runs = pack_runs(mask, blocks)

    def source(b: PrimExpr, k: PrimExpr) -> Cx:
        # a chain of selects on k; the template unrolls the blocks, so each copy folds it
        value = run_value(b, k, *runs[-1])
        for start, stop in reversed(runs[:-1]):
            arm = run_value(b, k, start, stop)
            below = k < stop * size
            value = Cx(tirx.Select(below, part(arm.re, dtype), part(value.re, dtype)),
                       tirx.Select(below, part(arm.im, dtype), part(value.im, dtype)))  # fmt: skip
        return value

    return source
