"""Property tests: small random chains around a Conv or a DFT, compiled by fftc and
compared with onnxruntime (or ONNX's float64 evaluator, as for the head alone, and
whenever the chain holds a DFT step of any length).

Strategies (``strategies_chain.py``): 0-2 activations (Relu, Gelu, Tanh, Sigmoid)
on the input, a Conv (``conv_configs``) or opset-20 DFT (``dft_configs``, lengths
<= 300) head, then 1-5 steps, each one of: Add / Mul with a broadcasting constant
(some dims 1, leading dims dropped), an activation (Gelu exact or tanh), Reshape
(merge / split / flatten, encoded with -1 or 0 at times), Transpose (any
permutation), a residual Add of the head's output, or a DFT along a random axis
(after an Unsqueeze that makes the value a real signal when needed).  These
exercise fftc's graph passes, Relax fusion of the kernels with their producers and
consumers, and the schedule templates' epilogue handling.

Tolerance: ``max|fftc - ref| <= rtol * max(max|ref|, G * max|h|)`` where ``h`` is
the head's output (reference run of the chain up to the head) and ``G`` bounds how
much the steps amplify an error in ``h`` in the max-norm (Mul by constants of
magnitude <= 2: x2; Gelu: x1.13; residual Add: +1; a DFT of length n: xn).  So the
head's own error (2e-5 for a Conv, ``2e-6 * log2(n)`` for a DFT, doubled against
onnxruntime; see the other modules) carries over; each DFT step adds its own
``2e-6 * log2(n)``, and ``1e-5`` covers the elementwise ops' rounding and fftc's
fast-math ``erf``/``exp``/``tanh`` (~3e-7 relative).  Measuring against ``G *
max|h|`` as well as ``max|ref|`` keeps the check meaningful when an activation or
a Mul shrinks the output (e.g. Relu of a mostly negative value).

Examples: 30 per property in CI (derandomized); run more locally with
``FFTC_HYPOTHESIS_EXAMPLES=2000 pytest tests/properties/test_chain_properties.py``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given

from tests.properties._common import property_settings, reference, run_fftc
from tests.properties.strategies_chain import ChainConfig, chain_configs


def check_chain(cfg: ChainConfig) -> None:
    model, feeds = cfg.build()
    want = reference(model, feeds, cfg.reference)["y"]
    head = reference(cfg.build(upto_head=True)[0], feeds, cfg.reference)["y"]
    got = run_fftc(model, feeds)["y"]
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    assert got.dtype == np.float32
    assert np.isfinite(got).all()
    err = float(np.abs(got.astype(np.float64) - want).max())
    scale = max(float(np.abs(want).max()), cfg.gain() * float(np.abs(head).max()))
    assert err <= cfg.rtol() * scale, f"max abs error {err:.3e} > {cfg.rtol():.1e} * {scale:.3e}"


@property_settings(30)
@given(cfg=chain_configs("conv"))
def test_conv_chain_matches_reference(cfg: ChainConfig) -> None:
    check_chain(cfg)


@property_settings(30)
@given(cfg=chain_configs("dft"))
def test_dft_chain_matches_reference(cfg: ChainConfig) -> None:
    check_chain(cfg)
