"""Every op family compiled by TVM (llvm) against onnxruntime (or ONNX's float64
reference where ORT's own FFT is too inaccurate).

Tolerance: fftc computes in fp32 like onnxruntime; both are ~1e-6 relative
from the exact result, so 1e-5 relative to the output scale leaves a margin
while catching any semantic error (those are O(1)).  FFT cases use 2e-5:
fp32 FFT error grows like log2(N) ulps.
"""

from __future__ import annotations

import numpy as np
import pytest

import fftc
from fftc.testing import assert_close
from tests.onnx_cases import Case, all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compiled_matches_reference(case: Case) -> None:
    module = fftc.compile(case.model)
    actual = module.run(case.feeds)
    expected = case.expected()
    rtol = 2e-5 if case.id.startswith(("dft", "stft")) else 1e-5
    for name, want in expected.items():
        got = np.asarray(actual[name])
        assert got.shape == want.shape, name
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            assert_close(got, want, rtol, f"{case.id}:{name}")
