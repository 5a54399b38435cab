"""FFT plans: the factorization chosen for a DFT, and its twiddle tables.

Pure Python and NumPy (no TVM), so ``fftc inspect --explain`` can show why a
length was lowered the way it was.

Algorithm choice for a complex FFT of length ``n`` (:func:`plan_complex`):

* every prime factor of ``n`` is at most ``fft.max_prime``: **mixed radix**
  Stockham stages (:mod:`.stockham`).  The prime factors are packed
  first-fit-decreasing into radices of at most ``fft.max_radix`` (a prime
  larger than that is a radix of its own), powers of two first, e.g.
  ``65536 -> 4x4x4x4x4x4x4x4``, ``1000 -> 4x2x5x5x5``, ``360 -> 4x2x5x3x3``
  (max radix 4, the default: for n = 65536 on one Zen 5 core radix 4 took
  0.12 ms, radix 2 0.19 ms, radix 8 0.25 ms, and radix 16 compiled for
  ~30 s; bigger unrolled butterflies run out of vector registers).  A stage
  costs ``O(n * R)`` with
  ``R <= max(max_radix, max_prime)``, so the transform is ``O(n log n)``;
* otherwise **Bluestein**: the DFT as a cyclic convolution with a chirp,
  computed with two mixed-radix FFTs of a length ``m >= 2n - 1`` that has only
  small prime factors (``O(m log m) = O(n log n)``, :mod:`.bluestein`).

A real-input forward transform of even length with ``onesided`` (rfft), and
its inverse (irfft), use the **half-length trick** (``fft.real_half``): one
complex FFT of length ``n / 2`` plus an ``O(n)`` pre- or post-processing pass
(:mod:`.realfft`).

A plan can also be given its radices (``factors``: the ``fft-to-monarch`` pass
chooses them per target and records them on the IR op, see
:mod:`fftc.passes.fft_to_monarch`): they multiply to the core length (mixed
radix, stages in the given order) or to Bluestein's padded length
(``>= 2 * core - 1``), and for an rfft/irfft of even length they plan the
half-length core when they fit it.  The knobs then only validate: the factors
already are the choice they would make.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fftc.ir.ops.dft import core_for_factors
from fftc.schedules.base import Knob, KnobValue

MAX_RADIX = Knob(
    "fft.max_radix",
    (2, 4, 8, 16, 32),
    4,
    "largest radix of a Stockham stage (fewer passes over memory vs bigger butterflies; "
    "fft-to-monarch's per-target default: 4 on CPUs, 32 on CUDA)",
    stage="compute",
)
MAX_PRIME = Knob(
    "fft.max_prime",
    (3, 5, 7, 11, 13, 17, 19, 23),
    13,
    "largest prime factor done as a direct butterfly; lengths with a larger one use Bluestein",
    stage="compute",
)
REAL_HALF = Knob(
    "fft.real_half",
    (1, 0),
    1,
    "rfft/irfft of even length as a complex FFT of half the length",
    stage="compute",
)
BLUESTEIN_PAD = Knob(
    "fft.bluestein_pad",
    ("pow2", "smooth"),
    "pow2",
    "Bluestein's convolution length: the next power of two, or the next 2^a*3^b*5^c*7^d",
    stage="compute",
)

#: the compute knobs of the FFT kernel, for ``fftc tune --list-knobs``
COMPUTE_KNOBS = (MAX_RADIX, MAX_PRIME, REAL_HALF, BLUESTEIN_PAD)

NORMS = ("backward", "ortho", "forward")


def knob_value(knobs: Mapping[str, KnobValue] | None, knob: Knob) -> KnobValue:
    """The value of ``knob`` in ``knobs`` (its default when absent), checked."""
    value = knob.default if knobs is None else knobs.get(knob.name, knob.default)
    if value not in knob.choices:
        raise ValueError(f"knob {knob.name}: {value!r} is not one of {knob.choices}")
    return value


def prime_factors(n: int) -> list[int]:
    """The prime factors of ``n`` with multiplicity, ascending."""
    factors = []
    p = 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    if n > 1:
        factors.append(n)
    return factors


def pack_radices(n: int, max_radix: int) -> tuple[int, ...]:
    """Prime factors of ``n`` packed first-fit-decreasing into radices ``<= max_radix``.

    Stage order: radices with the largest power-of-two factor first, so that
    the spans ``L`` of the later stages (the products of the earlier radices)
    are divisible by a vector width, then larger before smaller.
    """
    radices: list[int] = []
    for p in sorted(prime_factors(n), reverse=True):
        for i, radix in enumerate(radices):
            if radix * p <= max_radix:
                radices[i] = radix * p
                break
        else:
            radices.append(p)
    return tuple(sorted(radices, key=lambda r: (-(r & -r), -r)))


def next_smooth(n: int, primes: tuple[int, ...]) -> int:
    """The smallest integer ``>= n`` whose prime factors are all in ``primes``."""
    m = n
    while True:
        rest = m
        for p in primes:
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return m
        m += 1


@dataclass(frozen=True)
class MixedRadixPlan:
    """A Stockham FFT of ``length = prod(radices)``."""

    length: int
    radices: tuple[int, ...]

    def describe(self) -> str:
        if not self.radices:
            return f"{self.length} (copy)"
        return f"{self.length} = " + "x".join(str(r) for r in self.radices)

    def twiddles(self, sign: int) -> list[np.ndarray | None]:
        """Per stage, the ``(2, R-1, L)`` table ``exp(sign*2*pi*i*t*k/(R*L))`` (t >= 1)."""
        tables: list[np.ndarray | None] = []
        span = 1
        for radix in self.radices:
            if span == 1:
                tables.append(None)
            else:
                t = np.arange(1, radix)[:, None]
                k = np.arange(span)[None, :]
                tables.append(planar(root_table(t * k, radix * span, sign)))
            span *= radix
        return tables


@dataclass(frozen=True)
class BluesteinPlan:
    """Bluestein's chirp-z DFT of ``length`` via FFTs of ``padded >= 2*length - 1``."""

    length: int
    padded: MixedRadixPlan

    def describe(self) -> str:
        return f"{self.length} = bluestein({self.padded.describe()})"


CorePlan = MixedRadixPlan | BluesteinPlan


@dataclass(frozen=True)
class DFTPlan:
    """How one ``dft`` op is computed (see the module docstring)."""

    length: int
    inverse: bool
    onesided: bool
    real_input: bool
    norm: str
    #: ``"complex"``, or ``"real-half"`` for the half-length real trick
    method: str
    #: the complex FFT at the heart of it (length ``length`` or ``length // 2``)
    core: CorePlan

    @property
    def sign(self) -> int:
        """The exponent sign: -1 forward, +1 inverse."""
        return 1 if self.inverse else -1

    @property
    def scale(self) -> float:
        """The normalisation factor applied to the output."""
        n = self.length
        unscaled = "backward" if not self.inverse else "forward"
        if self.norm == unscaled:
            return 1.0
        if self.norm == "ortho":
            return float(1.0 / np.sqrt(n))
        return 1.0 / n

    @property
    def kind(self) -> str:
        """``fft``, ``ifft``, ``rfft`` or ``irfft``."""
        if self.onesided:
            return "irfft" if self.inverse else "rfft"
        return "ifft" if self.inverse else "fft"

    def explain(self) -> str:
        """One line saying what was chosen, e.g. for ``fftc inspect --explain``."""
        how = "complex FFT of half the length, " if self.method == "real-half" else ""
        return f"{self.kind} n={self.length} norm={self.norm}: {how}{self.core.describe()}"


def plan_complex(
    n: int, knobs: Mapping[str, KnobValue] | None = None, factors: Sequence[int] = ()
) -> CorePlan:
    """The plan of a complex FFT of length ``n`` (see the module docstring); with
    ``factors``, the plan of exactly those radices."""
    if factors:
        return plan_from_factors(n, factors)
    max_radix = int(knob_value(knobs, MAX_RADIX))
    max_prime = int(knob_value(knobs, MAX_PRIME))
    if n == 1 or max(prime_factors(n)) <= max_prime:
        return MixedRadixPlan(n, pack_radices(n, max_radix) if n > 1 else ())
    target = 2 * n - 1
    if knob_value(knobs, BLUESTEIN_PAD) == "pow2":
        padded = 1 << (target - 1).bit_length()
    else:
        padded = next_smooth(target, tuple(p for p in (2, 3, 5, 7) if p <= max_prime))
    return BluesteinPlan(n, MixedRadixPlan(padded, pack_radices(padded, max_radix)))


def plan_from_factors(n: int, factors: Sequence[int]) -> CorePlan:
    """Mixed radix with stages ``factors`` when they multiply to ``n``, else
    Bluestein around the FFT of their product (which must be ``>= 2n - 1``)."""
    if any(f < 2 for f in factors) or core_for_factors((n,), factors) is None:
        raise ValueError(
            f"FFT of length {n}: factors {list(factors)} multiply to {math.prod(factors)}, "
            f"neither {n} nor >= {2 * n - 1} (Bluestein), or hold a factor < 2"
        )
    radices = tuple(int(f) for f in factors)
    if math.prod(radices) == n:
        return MixedRadixPlan(n, radices)
    return BluesteinPlan(n, MixedRadixPlan(math.prod(radices), radices))


def plan_dft(
    length: int,
    *,
    inverse: bool = False,
    onesided: bool = False,
    real_input: bool = False,
    norm: str = "backward",
    knobs: Mapping[str, KnobValue] | None = None,
    factors: Sequence[int] = (),
) -> DFTPlan:
    """The plan for a DFT of ``length`` (``real_input``: the input has no imaginary part);
    ``factors``: the core's radices, chosen by ``fft-to-monarch`` (module docstring)."""
    if length < 1:
        raise ValueError(f"dft length must be positive, got {length}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    knobs = dict(knobs or {})
    for knob in COMPUTE_KNOBS:  # reject a bad value even where this length ignores it
        knob_value(knobs, knob)
    can_halve = onesided and length % 2 == 0 and (inverse or real_input)
    if factors:
        core = core_for_factors((length // 2, length) if can_halve else (length,), factors)
        if core is None:
            raise ValueError(f"{length}-point dft: factors {list(factors)} fit no core FFT")
        half = core != length
    else:
        half = can_halve and bool(knob_value(knobs, REAL_HALF))
    core_length = length // 2 if half else length
    return DFTPlan(
        length=length,
        inverse=inverse,
        onesided=onesided,
        real_input=real_input,
        norm=norm,
        method="real-half" if half else "complex",
        core=plan_complex(core_length, knobs, factors),
    )


def root_table(exponent: np.ndarray, n: int, sign: int) -> np.ndarray:
    """``exp(sign*2*pi*i*exponent/n)`` in float64, exact exponent reduced mod ``n`` first."""
    return np.exp(sign * 2j * np.pi * (np.asarray(exponent, dtype=np.int64) % n) / n)


def planar(values: np.ndarray) -> np.ndarray:
    """Complex array -> real array with a leading axis of 2 (real, imaginary)."""
    return np.stack([values.real, values.imag])
