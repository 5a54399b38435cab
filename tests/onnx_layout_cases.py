"""ONNX cases for layout changes (transposes), used by ``onnx_cases.all_cases``."""

from __future__ import annotations

import numpy as np
from onnx import helper

from fftc.testing.onnx_builder import graph_model
from tests.onnx_cases import Case, randn


def transpose_model() -> Case:
    """Layout changes the CPU template tiles (whole tiles, ragged extents, 4-D perms, a
    transpose with an elementwise consumer), and a broadcast that is not a transpose."""
    feeds = {"a": randn(1, 256, 192), "b": randn(3, 20, 36), "c": randn(2, 16, 24, 8),
             "d": randn(64, 48), "e": randn(5, 7)}  # fmt: skip
    perms = {"ta": ("a", [0, 2, 1]), "tb": ("b", [0, 2, 1]), "tc": ("c", [0, 3, 1, 2]),
             "tc2": ("c", [2, 0, 3, 1]), "td0": ("d", [1, 0]), "te": ("e", [1, 0])}  # fmt: skip
    nodes = [helper.make_node("Transpose", [x], [y], perm=p) for y, (x, p) in perms.items()]
    nodes += [helper.make_node("Sigmoid", ["td0"], ["td"]),
              helper.make_node("Unsqueeze", ["bias", "ax"], ["bias2"]),
              helper.make_node("Add", ["d", "bias2"], ["bcast"])]  # fmt: skip
    consts = {"bias": randn(64), "ax": np.array([1], np.int64)}
    outs = ["ta", "tb", "tc", "tc2", "td", "te", "bcast"]
    return Case("transpose", graph_model(nodes, feeds, outs, consts), feeds)
