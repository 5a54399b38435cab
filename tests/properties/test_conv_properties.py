"""Property tests: random Conv and ConvTranspose configurations compiled by fftc
and compared with onnxruntime.

Strategies (``strategies_conv.py``) generate only valid configurations: rank 1-2
(sometimes 3), batch 1-2, dense / depthwise (channel multiplier 1-3) / grouped
channels, kernels 1-9 (1-D sometimes 10-31), strides and dilations 1-3, explicit
asymmetric pads or auto_pad VALID / SAME_UPPER / SAME_LOWER, with or without bias;
ConvTranspose adds output_padding < stride and output_shape (with each auto_pad).
Every input size is chosen so that each output dimension has >= 1 element.

Tolerance: ``max|fftc - ort| <= 2e-5 * max|ort|``.  Both compute in fp32; an
output is a sum of ``K = cin/groups * prod(kernel) <= ~300`` products with the
weights scaled by ``1/sqrt(K)``, so outputs are O(1) and each side's rounding
error is about ``sqrt(K) * 2**-24 ~ 1e-6`` of the output scale (worst case
``K * 2**-24 ~ 2e-5``, summation orders differ between the two).  A semantic error
(a wrong pad, stride, group or tap) is O(1), five orders of magnitude above.

Examples: 35 per property in CI (derandomized); run more locally with
``FFTC_HYPOTHESIS_EXAMPLES=2000 pytest tests/properties/test_conv_properties.py``.
"""

from __future__ import annotations

from hypothesis import given

from fftc.errors import FftcError
from fftc.testing import assert_close
from tests.properties._common import check_model, property_settings, reference_fp64, run_fftc
from tests.properties.strategies_conv import (
    ConvConfig,
    ConvTransposeConfig,
    conv_configs,
    conv_transpose_configs,
)

CONV_RTOL = 2e-5


@property_settings(35)
@given(cfg=conv_configs())
def test_conv_matches_onnxruntime(cfg: ConvConfig) -> None:
    model, feeds = cfg.build()
    check_model(model, feeds, CONV_RTOL, cfg.reference)


@property_settings(35)
@given(cfg=conv_transpose_configs())
def test_conv_transpose_matches_onnxruntime(cfg: ConvTransposeConfig) -> None:
    model, feeds = cfg.build()
    if not cfg.contested:
        check_model(model, feeds, CONV_RTOL)
        return
    # auto_pad SAME where ONNX's shape inference contradicts the spec (see
    # ConvTransposeConfig.contested): a clear refusal is fine, a result must follow the spec
    try:
        actual = run_fftc(model, feeds)
    except FftcError:
        return
    spatial = [n * s for n, s in zip(cfg.sizes, cfg.strides, strict=True)]
    assert actual["out0"].shape == (cfg.batch, cfg.ch.cout, *spatial)
    if cfg.ch.groups == 1:  # ONNX's evaluator has no grouped ConvTranspose
        assert_close(actual["out0"], reference_fp64(model, feeds)["out0"], CONV_RTOL, "out0")
