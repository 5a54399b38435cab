"""The importer's semantics: import each ONNX case, evaluate the IR with the
float64 NumPy references, compare with onnxruntime (fp32).

Tolerance: onnxruntime computes in fp32, so it differs from the exact result by
~1e-6 relative (a few ulps times the reduction depth); 2e-5 allows that
with a margin.  The FFT cases use 1e-4: ORT's radix-2/Bluestein fp32 FFT
has errors that grow with log2(N) (up to ~1e-5 relative at N = 8191).
"""

from __future__ import annotations

import numpy as np
import pytest

from fftc.frontend.onnx import import_onnx
from fftc.ir import evaluate, parse_graph, print_graph
from fftc.testing import assert_close
from tests.onnx_cases import Case, all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_import_matches_onnxruntime(case: Case) -> None:
    graph = import_onnx(case.model)
    expected = case.expected()
    actual = evaluate(graph, case.feeds, precision="float64")
    rtol = 1e-4 if case.id.startswith(("dft", "stft")) else 2e-5
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape, name
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            assert_close(got, want, rtol, f"{case.id}:{name}")


@pytest.mark.parametrize("case", CASES[::4], ids=[c.id for c in CASES[::4]])
def test_imported_graph_text_round_trips(case: Case) -> None:
    graph = import_onnx(case.model)
    text = print_graph(graph)
    assert print_graph(parse_graph(text)) == text
