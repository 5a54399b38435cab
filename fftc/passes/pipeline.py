"""THE pipeline: the ordered list of graph passes every compile runs.

Each entry is a stage ``fftc inspect --stage NAME`` can show.  Ordering
needs are stated as ``requires``/``ensures`` properties and checked here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fftc.ir import Graph, IRError, verify
from fftc.passes.base import IMPORTED, Pass, PassContext
from fftc.passes.conv_to_fft import CONV_TO_FFT
from fftc.passes.dce import DeadCodeElimination
from fftc.passes.fft_to_monarch import FFT_TO_MONARCH
from fftc.passes.fold_constants import FoldConstants
from fftc.passes.monarch_length import MONARCH_LENGTH
from fftc.passes.simplify import SIMPLIFY
from fftc.passes.sparsity import SPARSITY
from fftc.passes.spectral_fusion import SPECTRAL_FUSION

log = logging.getLogger("fftc.passes")

PIPELINE: tuple[Pass, ...] = (
    FoldConstants(),  # constants computed at compile time (weights' transposes, shapes)
    SIMPLIFY,  # canonical form: no identity movement, merged reshape/transpose chains
    SPECTRAL_FUSION,  # rfft -> complex product -> irfft => fused fft_conv ops
    CONV_TO_FFT,  # depthwise convolutions with constant kernels -> FFT convolutions (cost model)
    MONARCH_LENGTH,  # cuda: fft_conv lengths the Monarch kernel lacks widened to one it has
    SPARSITY,  # fft_conv with constant spectra: zero frequency blocks skipped (freq_sparsity)
    FFT_TO_MONARCH,  # every FFT's factorization into small DFT stages (per-target cost model)
    DeadCodeElimination(),  # what the rewrites left unused
)


def pass_names() -> list[str]:
    return [p.name for p in PIPELINE]


def run_pipeline(
    graph: Graph,
    ctx: PassContext | None = None,
    on_stage: Callable[[str, Graph], None] | None = None,
    stop_after: str | None = None,
) -> Graph:
    """Run PIPELINE (up to ``stop_after``), verifying after each pass."""
    ctx = ctx or PassContext()
    have = set(IMPORTED)
    for p in PIPELINE:
        missing = p.requires - have
        if missing:
            raise IRError(
                f"pass {p.name} requires {sorted(missing)}, which no earlier pass ensures"
            )
        t0 = time.perf_counter()
        graph = p.run(graph, ctx)
        log.debug("pass %s: %.3f s, %d nodes", p.name, time.perf_counter() - t0, len(graph.nodes))
        if ctx.verify_each:
            try:
                verify(graph)
            except IRError as err:
                raise IRError(f"after pass {p.name}: {err}") from None
        have |= p.ensures
        if on_stage is not None:
            on_stage(p.name, graph)
        if p.name == stop_after:
            break
    return graph
