"""fft-to-monarch: every FFT gets its factorization, chosen per target.

An FFT of ``n = n1 * n2 * ...`` points is a sequence of stages, each a batch of
small dense ``n_i``-point DFTs followed by twiddle multiplies: FlashFFTConv's
Monarch form, and exactly what one Stockham stage of radix ``n_i`` computes
(:mod:`fftc.kernels.fft.stockham`).  This pass chooses the ``n_i`` of every
``dft``, ``fft_conv`` and ``fft_conv2d`` whose ``factors`` attribute is empty
and records them there; lowering builds exactly that plan
(:func:`fftc.kernels.fft.plan.plan_complex`), and ``fftc inspect --explain``
shows the choice::

    [fft-to-monarch] dft 'x': rfft n=2048: core 1024 = 4x4x4x4x4 (llvm: radix-4 Stockham ...)

The *core* is the complex FFT at the heart of the op: ``n`` points, or ``n/2``
with the real half-length trick (an rfft/irfft of even length; ``fft_conv`` and
the last axis of ``fft_conv2d`` always).  A core with a prime factor above
``fft.max_prime`` (13) is done by Bluestein's algorithm: the factors are those
of its padded FFT (the next power of two ``>= 2 * core - 1``).

Cost model, per target kind (pass option ``target_kind``, set by
:func:`fftc.compile` from ``--target``; default ``llvm``):

* ``llvm``: the prime factors packed first-fit-decreasing into radices of at
  most 4 (``fft.max_radix``'s default).  Measured for n = 65536 on one Zen 5
  core: radix 4 0.12 ms, radix 2 0.19 ms, radix 8 0.25 ms; radix 16 took ~30 s
  to compile (the unrolled butterflies run out of vector registers).
* ``cuda``: FlashFFTConv's Monarch factors of 16 and 32 (a warp-sized dense DFT
  per stage): its table for powers of two (256 = 16x16, 1K = 32x32, 4K =
  16x16x16, 8K = 32x16x16, 16K = 16x32x32, 32K = 32x32x32), other powers of two
  split into the fewest near-equal powers of two ``<= 32``, other lengths their
  prime factors packed into factors ``<= 32``.

Pass option ``fft_max_radix`` (one of the ``fft.max_radix`` knob's choices)
overrides the target's largest factor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fftc.errors import UsageError
from fftc.ir import Graph, Node
from fftc.ir.ops.dft import DFTAttrs
from fftc.ir.ops.spectral import FFTConv2DAttrs, FFTConvAttrs
from fftc.kernels.fft.plan import (
    MAX_PRIME,
    MAX_RADIX,
    BluesteinPlan,
    CorePlan,
    pack_radices,
    plan_complex,
    plan_dft,
    prime_factors,
)
from fftc.passes.base import PassContext

PASS_NAME = "fft-to-monarch"
#: the ops whose FFTs this pass plans
OPS = ("dft", "fft_conv", "fft_conv2d")

#: FlashFFTConv's Monarch factorizations of powers of two (Fu et al., 2023)
FLASHFFTCONV_FACTORS: dict[int, tuple[int, ...]] = {
    256: (16, 16),
    1024: (32, 32),
    4096: (16, 16, 16),
    8192: (32, 16, 16),
    16384: (16, 32, 32),
    32768: (32, 32, 32),
}


def stockham_radices(n: int, max_factor: int) -> tuple[int, ...]:
    """CPU: prime factors packed first-fit-decreasing into radices ``<= max_factor``."""
    return pack_radices(n, max_factor) if n > 1 else ()


def monarch_radices(n: int, max_factor: int) -> tuple[int, ...]:
    """CUDA: FlashFFTConv's factors (``max_factor`` 32), else for a power of two the
    fewest near-equal powers of two ``<= max_factor``, larger first; other lengths
    as :func:`stockham_radices`."""
    if n <= 1 or n & (n - 1):
        return stockham_radices(n, max_factor)
    if max_factor == 32 and n in FLASHFFTCONV_FACTORS:
        return FLASHFFTCONV_FACTORS[n]
    bits, most = n.bit_length() - 1, max_factor.bit_length() - 1
    stages = -(-bits // most)
    return tuple(1 << (bits // stages + (i < bits % stages)) for i in range(stages))


@dataclass(frozen=True)
class TargetModel:
    """How one target kind factors an FFT, and the evidence for it."""

    kind: str
    max_factor: int
    factorize: Callable[[int, int], tuple[int, ...]]
    why: str


MODELS: dict[str, TargetModel] = {
    "llvm": TargetModel(
        "llvm",
        int(MAX_RADIX.default),
        stockham_radices,
        "radix-{r} Stockham{override}; radix 4 measured fastest on CPUs (n=65536, one Zen 5 "
        "core: radix 4 0.12 ms, 2 0.19 ms, 8 0.25 ms; radix 16 compiles ~30 s)",
    ),
    "cuda": TargetModel(
        "cuda",
        32,
        monarch_radices,
        "Monarch factors <= {r}{override}, FlashFFTConv's table (256=16x16, 1K=32x32, "
        "4K=16x16x16, 8K=32x16x16, 16K=16x32x32, 32K=32x32x32)",
    ),
}


@dataclass(frozen=True)
class Factoring:
    """The options the pass reads: the target's model and the largest factor."""

    model: TargetModel
    max_factor: int
    override: bool

    @staticmethod
    def from_options(options: Mapping[str, Any]) -> Factoring:
        kind = str(options.get("target_kind", "llvm"))
        if kind not in MODELS:
            raise UsageError(
                f"{PASS_NAME}: no FFT cost model for target kind {kind!r} "
                f"(pass option target_kind: one of {', '.join(MODELS)})"
            )
        model = MODELS[kind]
        value = options.get("fft_max_radix")
        if value is None:
            return Factoring(model, model.max_factor, False)
        if isinstance(value, bool) or value not in MAX_RADIX.choices:
            raise UsageError(
                f"{PASS_NAME}: pass option fft_max_radix must be one of "
                f"{', '.join(str(c) for c in MAX_RADIX.choices)} (the {MAX_RADIX.name} knob's "
                f"choices), got {value!r}"
            )
        return Factoring(model, int(value), True)

    def factors(self, core: int) -> tuple[int, ...]:
        """The radices of a core FFT of ``core`` points (its padded FFT's for Bluestein)."""
        plan = plan_complex(core)  # Bluestein or not, and the padded length (knob defaults)
        fft = plan.padded if isinstance(plan, BluesteinPlan) else plan
        return self.model.factorize(fft.length, self.max_factor)

    def reason(self, cores: tuple[CorePlan, ...], half: str = "") -> str:
        override = f" (fft_max_radix={self.max_factor}, pass option)" if self.override else ""
        notes = [
            f"{self.model.kind}: {self.model.why.format(r=self.max_factor, override=override)}"
        ]
        if half:
            notes.append(f"real {half}: a complex core of half the length")
        for plan in cores:
            if isinstance(plan, BluesteinPlan):
                notes.append(
                    f"{plan.length} has the prime factor {max(prime_factors(plan.length))} > "
                    f"{MAX_PRIME.default}: Bluestein over {plan.padded.length} points"
                )
        return "; ".join(notes)


@dataclass(frozen=True)
class Planned:
    """What the pass chose for one node: its new attributes and the explanation."""

    attrs: DFTAttrs | FFTConvAttrs | FFTConv2DAttrs
    choice: str
    reason: str


def check(node: Node) -> str | None:
    """None when ``node`` is an FFT this pass plans, else why not."""
    if node.op not in OPS:
        return f"{node.op} has no FFT"
    if getattr(node.attrs, "factors", ()):
        return "factors set before this pass"
    return None


def plan_node(node: Node, graph: Graph, how: Factoring) -> Planned:
    """The factors of ``node``'s core FFT(s) (``check(node)`` is None)."""
    a = node.attrs
    if isinstance(a, DFTAttrs):
        x = graph.values[node.inputs[0] or ""].type
        real = x.shape[-1] == 1
        core = a.length // 2 if a.onesided and a.length % 2 == 0 else a.length
        factors = how.factors(core)
        plan = plan_dft(a.length, inverse=a.inverse, onesided=a.onesided, real_input=real,
                        norm=a.norm, factors=factors)  # fmt: skip
        choice = f"{plan.kind} n={a.length}: core {plan.core.describe()}"
        why = how.reason((plan.core,), "signal" if plan.method == "real-half" else "")
        return Planned(a.replace(factors=factors), choice, why)
    if isinstance(a, FFTConvAttrs):
        factors = how.factors(a.length // 2)
        half = plan_complex(a.length // 2, factors=factors)
        choice = f"fft_conv n={a.length}: core {half.describe()}"
        why = how.reason((half,), "signal")
        if how.model.kind == "cuda":
            why += "; " + _cuda_monarch_note(a.length)
        return Planned(a.replace(factors=factors), choice, why)
    assert isinstance(a, FFTConv2DAttrs)
    (nh, nw) = a.lengths
    per_axis = (how.factors(nh), how.factors(nw // 2))
    cols = plan_complex(nh, factors=per_axis[0])
    rows = plan_complex(nw // 2, factors=per_axis[1])
    choice = f"fft_conv2d {nh}x{nw}: columns core {cols.describe()}, rows core {rows.describe()}"
    return Planned(a.replace(factors=per_axis), choice, how.reason((cols, rows), "rows"))


def _cuda_monarch_note(n: int) -> str:
    """What CUDA's tensor-core Monarch kernel does with an ``fft_conv`` of length ``n``
    (it, not these factors, runs the op when it takes it: see the ``[lower]`` line)."""
    from fftc.kernels.cuda.outer import fft_conv_plan

    try:
        plan = fft_conv_plan(n, "float16")
    except UsageError as err:
        return f"the tensor-core Monarch kernel does not take n={n} ({err}): these factors run"
    return (
        f"if the tensor-core Monarch kernel takes it (see [lower]), it runs the full complex "
        f"length instead, {plan.describe()}, not the half-length core"
    )


@dataclass(frozen=True)
class FFTToMonarch:
    """``fft(n) => stages of n1 x n2 x ... dense DFTs + twiddles`` (see the module doc)."""

    name: str = PASS_NAME
    doc: str = "every FFT's factorization into small dense DFT stages, chosen per target"
    #: after every pass that makes FFTs (their new ops would go unplanned)
    requires: frozenset[str] = frozenset({"spectral-fused", "fft-conv"})
    ensures: frozenset[str] = frozenset({"fft-factors"})

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        how = Factoring.from_options(ctx.options)
        nodes: list[Node] = []
        for node in graph.nodes:
            reason = check(node)
            if reason is not None:
                if node.op in OPS:
                    ctx.decide(self.name, node.label, f"kept factors {_factors(node)}", reason)
                nodes.append(node)
                continue
            planned = plan_node(node, graph, how)
            ctx.decide(self.name, node.label, planned.choice, planned.reason)
            nodes.append(node.replace(attrs=planned.attrs))
        return graph.replace(nodes=tuple(nodes))


def _factors(node: Node) -> str:
    value = getattr(node.attrs, "factors", ())
    if value and isinstance(value[0], tuple):  # fft_conv2d: per axis
        return ", ".join(_stages(axis) or "unplanned" for axis in value)
    return _stages(value)


def _stages(factors: tuple[int, ...]) -> str:
    return "x".join(str(f) for f in factors)


FFT_TO_MONARCH = FFTToMonarch()

__all__ = ["FFT_TO_MONARCH", "FLASHFFTCONV_FACTORS", "MODELS", "FFTToMonarch", "monarch_radices"]
