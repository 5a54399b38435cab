"""Every committed example model compiles and matches onnxruntime (fp32, 1e-4
relative to the output scale, the `fftc verify` criterion), and the export
script reproduces the committed files' graphs."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import onnx
import pytest

import fftc
from fftc.testing import assert_close, random_inputs, run_onnxruntime
from tests.conftest import EXAMPLES

MODELS = sorted((EXAMPLES / "onnx").glob("*.onnx")) + sorted((EXAMPLES / "zoo").glob("*.onnx"))
HEADLINE = {"hyena_block", "fnet_mixing", "gfnet_filter", "dwconv31_block", "convnext_block"}
FAMILIES = {"hyena", "h3", "m2_bert", "replknet", "unireplknet", "convnext", "inceptionnext",
            "fnet", "gfnet", "afno", "fno", "fftnet"}  # fmt: skip


def test_every_example_and_family_is_committed():
    assert {p.stem for p in (EXAMPLES / "onnx").glob("*.onnx")} == HEADLINE
    assert {p.stem for p in (EXAMPLES / "zoo").glob("*.onnx")} == FAMILIES
    for path in MODELS:
        assert path.stat().st_size < 5 * 2**20, path


@pytest.mark.parametrize("path", MODELS, ids=[f"{p.parent.name}/{p.stem}" for p in MODELS])
def test_example_matches_onnxruntime(path: Path):
    module = fftc.compile(path)
    feeds = random_inputs(path, seed=0)
    expected = run_onnxruntime(path, feeds)
    actual = module.run(feeds)
    for name, want in expected.items():
        assert_close(actual[name], want, 1e-4, f"{path.stem}:{name}")


def test_dynamic_example_with_pinned_shapes():
    path = EXAMPLES / "dynamic" / "hyena_block_dynamic.onnx"
    shapes = {"u": (2, 100, 64)}
    module = fftc.compile(path, input_shapes=shapes)
    feeds = random_inputs(path, seed=1, input_shapes=shapes)
    assert_close(module.run(feeds)["y"], run_onnxruntime(path, feeds)["y"], 1e-4, "y")


@pytest.mark.torch
def test_export_script_reproduces_the_committed_graphs(tmp_path: Path):
    names = ["fnet_mixing", "gfnet_filter"]
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / "export.py"), "--out", str(tmp_path), "--only", *names],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    for name in names:
        fresh = onnx.load(str(tmp_path / "onnx" / f"{name}.onnx"))
        committed = onnx.load(str(EXAMPLES / "onnx" / f"{name}.onnx"))
        count = lambda m: Counter(n.op_type for n in m.graph.node)  # noqa: E731
        assert count(fresh) == count(committed), name


@pytest.mark.torch
def test_bench_examples_times_fftc_torch_and_onnxruntime():
    """The side-by-side script runs (its outputs checked against onnxruntime first) and
    prints a row per example; the times themselves are benchmarks, not asserted."""
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / "bench_examples.py"), "--only", "gfnet_filter",
         "hyena_block", "--rounds", "1"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split("|") for line in r.stdout.splitlines() if line.startswith("| onnx/")]
    assert [row[1].strip() for row in rows] == ["onnx/hyena_block", "onnx/gfnet_filter"]
    for _, _, fftc_ms, _, torch_ms, ort_ms, peer, _, _ in rows:
        assert min(float(fftc_ms), float(torch_ms), float(ort_ms)) > 0
        assert peer.strip() in ("torch", "onnxruntime")
