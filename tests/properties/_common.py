"""Shared helpers of the property tests: hypothesis settings, compile-and-compare.

Example counts: each property runs ``default`` examples (sized so that the whole
``tests/properties`` directory takes about 3 minutes on 2 cores), derandomized
(the same examples every run, no example database).  For a deeper local search set
``FFTC_HYPOTHESIS_EXAMPLES``::

    FFTC_HYPOTHESIS_EXAMPLES=2000 pytest tests/properties

which runs that many examples per property with a random seed (hypothesis prints
the seed of a failure; repeat it with ``--hypothesis-seed=<seed>``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np
import onnx
from hypothesis import HealthCheck, settings
from onnx import numpy_helper

import fftc
from fftc.testing import assert_close, run_onnx_reference, run_onnxruntime

EXAMPLES_ENV = "FFTC_HYPOTHESIS_EXAMPLES"


def example_count(default: int) -> int:
    """``default``, or the count asked for in ``$FFTC_HYPOTHESIS_EXAMPLES``."""
    raw = os.environ.get(EXAMPLES_ENV, "").strip()
    return int(raw) if raw else default


def property_settings(default_examples: int) -> settings:
    """Settings of every property: no deadline, no database, derandomized in CI."""
    deep = bool(os.environ.get(EXAMPLES_ENV, "").strip())
    return settings(
        max_examples=example_count(default_examples),
        deadline=None,
        derandomize=not deep,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def randn(gen: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    """N(0, scale^2) float32 data."""
    return (gen.standard_normal(shape) * scale).astype(np.float32)


def run_fftc(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Compile ``model`` with fftc for this CPU and run it on ``feeds``."""
    module = fftc.compile(model)
    return {k: np.asarray(v) for k, v in module.run(dict(feeds)).items()}


def widen(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with its float32 initializers in float64."""
    wide = onnx.ModelProto()
    wide.CopyFrom(model)
    for i, init in enumerate(wide.graph.initializer):
        if init.data_type == onnx.TensorProto.FLOAT:
            array = numpy_helper.to_array(init).astype(np.float64)
            wide.graph.initializer[i].CopyFrom(numpy_helper.from_array(array, init.name))
    return wide


def reference_fp64(
    model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """ONNX's reference evaluator on float64 inputs and weights: it computes in float64."""
    wide = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in feeds.items()}
    return run_onnx_reference(widen(model), wide)


def reference(
    model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], which: str
) -> dict[str, np.ndarray]:
    """``which``: "ort" (onnxruntime, fp32) or "fp64" (ONNX's evaluator in float64)."""
    if which == "ort":
        return run_onnxruntime(model, feeds, threads=1)
    return reference_fp64(model, feeds)


def check_model(
    model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], rtol: float, ref: str = "ort"
) -> None:
    """fftc's outputs match the reference: shapes exactly, values within ``rtol``
    relative to the output scale (``max|a - b| <= rtol * max|ref|``)."""
    expected = reference(model, feeds, ref)
    actual = run_fftc(model, feeds)
    assert set(actual) == set(expected), (sorted(actual), sorted(expected))
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
        assert got.dtype == np.float32, f"{name}: dtype {got.dtype}"
        assert np.isfinite(got).all(), f"{name}: non-finite values"
        assert_close(got, want, rtol, f"{name} (vs {ref})")


def fft_rtol(n: int) -> float:
    """fp32 FFT error bound relative to the output scale (see test_dft_properties)."""
    return 2e-6 * max(1.0, math.log2(max(n, 1)))


def is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0
