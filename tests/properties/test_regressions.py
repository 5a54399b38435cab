"""Minimal failing cases found by the property tests, one per fftc bug (BUG-<n>).

All are fixed; each test keeps its minimal case from coming back. Tolerances as in the
property modules.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

from fftc.testing.onnx_builder import op_model
from tests.properties._common import check_model


def test_bug1_stft_default_onesided():
    x = np.linspace(-1.0, 1.0, 4, dtype=np.float32).reshape(1, 4, 1)
    consts = {"step": np.array(1, np.int64), "len": np.array(3, np.int64)}
    model = op_model("STFT", ["x", "step", "", "len"], {"x": x}, consts, opset=17)
    check_model(model, {"x": x}, 1e-5)  # onnxruntime: shape (1, 2, 2, 2)


def test_bug2_conv_transpose_same_with_output_padding():
    x = np.arange(1, 5, dtype=np.float32).reshape(1, 1, 4)
    w = np.array([1.0, 10.0], np.float32).reshape(1, 1, 2)
    attrs: dict[str, Any] = {"strides": [2], "output_padding": [1], "auto_pad": "SAME_LOWER"}
    model = op_model("ConvTranspose", ["x", "w"], {"x": x}, {"w": w}, **attrs)
    check_model(model, {"x": x}, 1e-5)  # onnxruntime: [[[10, 2, 20, 3, 30, 4, 40, 0]]]


BUG3_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from onnx import helper
    import fftc
    from fftc.testing.onnx_builder import graph_model

    x = np.linspace(-2, 2, 64, dtype=np.float32).reshape(1, 4, 16)
    nodes = [helper.make_node("Tanh", [f"v{i}"], [f"v{i + 1}"]) for i in range(4)]
    y = fftc.compile(graph_model(nodes, {"v0": x}, ["v4"])).run({"v0": x})["v4"]
    np.testing.assert_allclose(y, np.tanh(np.tanh(np.tanh(np.tanh(x)))), rtol=1e-5, atol=1e-6)
    """
)


def test_bug3_chained_tanh_compiles_quickly():
    """Four Tanh in a row compile (with TVM's import) in under 15 s."""
    try:
        subprocess.run([sys.executable, "-c", BUG3_SCRIPT], check=True, timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("compiling 4 x Tanh took more than 15 s")
