"""Tiny models for the tuning tests (a few tasks that build in well under a second)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from fftc.testing.onnx_builder import graph_model

X = np.random.default_rng(0).standard_normal((1, 16, 32)).astype(np.float32)


def tiny_model() -> onnx.ModelProto:
    """relu(relu(x @ W1) @ W2): one workload called twice, then a DFT (a kernel task)."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["b"]),
        helper.make_node("Relu", ["b"], ["c"]),
        helper.make_node("Unsqueeze", ["c", "ax"], ["u"]),
        helper.make_node("DFT", ["u", "", "axis"], ["y"], onesided=1),
    ]
    consts: dict[str, np.ndarray] = {
        "w1": rng.standard_normal((32, 32)).astype(np.float32),
        "w2": rng.standard_normal((32, 32)).astype(np.float32),
        "ax": np.array([-1], np.int64),
        "axis": np.array(2, np.int64),
    }
    return graph_model(nodes, {"x": X}, ["y"], consts, name="tiny")


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tune") / "tiny.onnx"
    onnx.save(tiny_model(), str(path))
    return path


def fftc_cli(
    *args: str, cwd: Path | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fftc", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
