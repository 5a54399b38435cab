"""Bluestein's algorithm, and the dispatch between it and mixed radix.

For a length ``n`` with a prime factor too large for a butterfly, with the
chirp ``w[j] = exp(sign*i*pi*j^2/n)`` (``j^2`` reduced mod ``2n`` first), and
since ``j*k = (j^2 + k^2 - (k-j)^2) / 2``::

    X[k] = w[k] * sum_{j<n} (x[j]*w[j]) * conj(w[k-j])

is a convolution, computed cyclically with length ``m >= 2n - 1``:

1. ``a[j] = x[j]*w[j]`` for ``j < n``, 0 for ``n <= j < m`` (fused into the
   first stage of step 2 as its source; the zero comes from the table
   ``chirp`` being 0 there, the load index is clamped to ``n - 1``);
2. ``A = FFT_m(a)`` (forward, mixed radix);
3. ``C[j] = A[j] * F[j]`` with the constant filter spectrum
   ``F = FFT_m(b) / m``, ``b[j] = conj(w[|j|])`` for ``|j| < n`` (cyclic),
   0 elsewhere (fused into the first stage of step 4);
4. ``c = IFFT_m(C)`` (inverse, unscaled, mixed radix);
5. ``X[k] = w[k] * c[k]`` for ``k < n`` (fused into the consumer's load).

Tables: ``chirp`` ``(2, m)`` and ``filter`` ``(2, m)``, both precomputed
with NumPy in float64.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fftc.codegen.tvm_api import te, tirx

from .butterfly import Cx, PrimExpr, cmul
from .plan import BluesteinPlan, CorePlan, MixedRadixPlan, planar, root_table
from .stockham import Batch, Source, stockham_fft


def core_tables(plan: CorePlan, sign: int, prefix: str) -> dict[str, np.ndarray]:
    """The constant tables of a complex FFT plan, by name (float64)."""
    if isinstance(plan, MixedRadixPlan):
        return {
            f"{prefix}.tw{s}": table
            for s, table in enumerate(plan.twiddles(sign))
            if table is not None
        }
    n, m = plan.length, plan.padded.length
    j = np.arange(n)
    chirp = root_table(j * j, 2 * n, sign)
    padded_chirp = np.zeros(m, dtype=np.complex128)
    padded_chirp[:n] = chirp
    kernel = np.zeros(m, dtype=np.complex128)
    kernel[:n] = np.conj(chirp)
    kernel[m - n + 1 :] = np.conj(chirp[1:][::-1])
    tables = {
        f"{prefix}.chirp": planar(padded_chirp),
        f"{prefix}.filter": planar(np.fft.fft(kernel) / m),
    }
    tables.update(core_tables(plan.padded, -1, f"{prefix}.fwd"))
    tables.update(core_tables(plan.padded, 1, f"{prefix}.inv"))
    return tables


def build_core(
    plan: CorePlan,
    source: Source,
    batch: Batch,
    sign: int,
    tables: Mapping[str, te.Tensor],
    dtype: str,
    prefix: str,
    tag: str = "fft",
    nonzero: int | None = None,
) -> Source:
    """The TE stages of a complex FFT plan; returns its output as a source.

    ``tag`` prefixes the blocks' kernel tags; ``nonzero``: the source is zero
    from that index on (used by a mixed-radix plan's first stage)."""
    if isinstance(plan, MixedRadixPlan):
        twiddles = [tables.get(f"{prefix}.tw{s}") for s in range(len(plan.radices))]
        return stockham_fft(source, batch, plan.length, plan.radices, sign, twiddles, dtype,
                            prefix, tag, nonzero)  # fmt: skip
    return _bluestein(plan, source, batch, tables, dtype, prefix, tag)


def _bluestein(
    plan: BluesteinPlan,
    source: Source,
    batch: Batch,
    tables: Mapping[str, te.Tensor],
    dtype: str,
    prefix: str,
    tag: str = "fft",
) -> Source:
    n = plan.length
    chirp = tables[f"{prefix}.chirp"]
    spectrum = tables[f"{prefix}.filter"]

    def chirped(b: PrimExpr, j: PrimExpr) -> Cx:
        value = source(b, tirx.min(j, n - 1))
        return cmul(value, Cx(chirp[0, j], chirp[1, j]))

    def filtered(b: PrimExpr, j: PrimExpr) -> Cx:
        return cmul(transformed(b, j), Cx(spectrum[0, j], spectrum[1, j]))

    def result(b: PrimExpr, k: PrimExpr) -> Cx:
        return cmul(convolved(b, k), Cx(chirp[0, k], chirp[1, k]))

    transformed = build_core(plan.padded, chirped, batch, -1, tables, dtype, f"{prefix}.fwd", tag)
    convolved = build_core(plan.padded, filtered, batch, 1, tables, dtype, f"{prefix}.inv", tag)
    return result
