"""Property tests: random DFT and STFT configurations compiled by fftc and compared
with onnxruntime (power-of-two lengths) or ONNX's reference evaluator run in float64.

Strategies (``strategies_dft.py``): transform lengths 1..300 with primes and
awkward composites overweighted, rarely 1000..8191; rank 2-4 with the transform on
any axis but the last; forward / inverse, real / complex input, onesided (rfft) and
irfft (inverse + onesided, complex input, with dft_length, including one-sided
inputs longer or shorter than ``length // 2 + 1``); dft_length zero padding and
truncation; opset 17 (axis attribute, default 1) and opset 20 (axis input 2, default
-2, positive or negative, dft_length input 1 optional).  STFT (opset 17): signals of
1..200 samples, real or complex, frame_length 1..80, frame_step 1..frame_length+3,
no / Hann / random window, frame_length given or implied, onesided 0 / 1 / default.

Tolerance: ``max|fftc - ref| <= 2e-6 * max(1, log2(n)) * max|ref|`` for a transform
of length ``n`` (float64 reference).  A floating-point FFT in ``log2(n)`` levels has
a relative error below ``log2(n) * ~7u`` (Higham, Thm. 24.2; ``u = 2**-24``), and
Bluestein (prime lengths) runs FFTs of length ``<= 4n``; see tests/kernels/test_fft.py,
whose measured errors are 0.3-2e-7.  When onnxruntime is the reference (power-of-two
lengths only) its own fp32 error, bounded the same way, is added.  An index, twiddle,
scaling or padding error is O(1).  The STFT bound is the DFT's of its frame length.

Examples: 40 DFT and 25 STFT examples in CI (derandomized); run more locally with
``FFTC_HYPOTHESIS_EXAMPLES=2000 pytest tests/properties/test_dft_properties.py``.
"""

from __future__ import annotations

from hypothesis import given

from tests.properties._common import check_model, fft_rtol, property_settings
from tests.properties.strategies_dft import DFTConfig, STFTConfig, dft_configs, stft_configs


@property_settings(40)
@given(cfg=dft_configs())
def test_dft_matches_reference(cfg: DFTConfig) -> None:
    model, feeds = cfg.build()
    rtol = fft_rtol(cfg.length) * (2 if cfg.reference == "ort" else 1)
    check_model(model, feeds, rtol, cfg.reference)


@property_settings(25)
@given(cfg=stft_configs())
def test_stft_matches_reference(cfg: STFTConfig) -> None:
    model, feeds = cfg.build()
    check_model(model, feeds, fft_rtol(cfg.frame_length), "fp64")
