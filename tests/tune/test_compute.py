"""Compute knobs (``fftc.tune.compute``): the FFT factorization searched over the whole
model, recorded in the tuning log, applied by ``fftc compile --tuning-log``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

import fftc
from fftc.api import CompileOptions
from fftc.target import parse_target
from fftc.testing.onnx_builder import graph_model
from fftc.tune.compute import OPTION, candidates, search_compute
from fftc.tune.log import TuningLog

SPEC = parse_target("llvm")


@pytest.fixture(scope="module")
def rfft_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An rfft of 256 points: radix 2, 4 and 8 give different stages."""
    nodes = [
        helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
        helper.make_node("DFT", ["u", "", "axis"], ["y"], onesided=1),
    ]
    consts = {"ax": np.array([-1], np.int64), "axis": np.array(1, np.int64)}
    x = np.zeros((4, 256), np.float32)
    path = tmp_path_factory.mktemp("compute") / "rfft.onnx"
    onnx.save(graph_model(nodes, {"x": x}, ["y"], consts, name="rfft"), str(path))
    return path


def test_candidates_per_target():
    assert candidates(SPEC) == (2, 4, 8)
    assert candidates(parse_target("cuda:sm_90")) == (16, 32)


def test_the_fastest_candidate_is_chosen(rfft_path: Path):
    """With a fake timer (radix 8 fastest), the choice follows the times, and each
    candidate's compile planned its own radices."""
    seen: list[list[str]] = []

    def timer(modules, feeds):
        seen.append([next(d for d in m.decisions if "[fft-to-monarch]" in d) for m in modules])
        return [3.0, 2.0, 1.0]

    choice = search_compute(rfft_path, SPEC, CompileOptions(), {}, False, timer=timer)
    assert choice.options == {OPTION: 8}
    assert choice.times == {"2": 3.0, "4": 2.0, "8": 1.0}
    (lines,) = seen
    assert "2x2x2x2x2x2x2" in lines[0]  # core 128 = 2^7
    assert "4x4x4x2" in lines[1]
    assert "8x8x2" in lines[2]
    assert "fft_max_radix=8" in choice.describe()


def test_no_search_without_ffts_or_with_a_fixed_radix(tmp_path: Path, rfft_path: Path):
    node = helper.make_node("Relu", ["x"], ["y"])
    path = tmp_path / "relu.onnx"
    onnx.save(graph_model([node], {"x": np.zeros((2, 8), np.float32)}, ["y"]), str(path))

    def never(modules, feeds):
        raise AssertionError("nothing to time")

    assert search_compute(path, SPEC, CompileOptions(), {}, False, timer=never).options == {}
    fixed = CompileOptions(pass_options={OPTION: 2})
    assert search_compute(rfft_path, SPEC, fixed, {}, False, timer=never).options == {OPTION: 2}


def test_log_records_and_compile_applies_the_choice(tmp_path: Path, rfft_path: Path):
    log = TuningLog.open_or_create(tmp_path / "log", SPEC, "rfft")
    assert log.compute_options is None
    log.compute_options, log.compute_times = {OPTION: 8}, {"8": 0.01}
    log.save()
    reopened = TuningLog.open(tmp_path / "log", SPEC)
    assert reopened.compute_options == {OPTION: 8}
    assert reopened.compute_times == {"8": 0.01}
    module = fftc.compile(rfft_path, options=CompileOptions(tuning_log=tmp_path / "log"))
    assert "[tune] compute knobs from the tuning log: fft_max_radix=8" in module.decisions
    assert any("8x8x2" in d for d in module.decisions if "[fft-to-monarch]" in d)
    x = np.random.default_rng(0).standard_normal((4, 256)).astype(np.float32)
    y = module.run({"x": x})["y"]
    ref = np.fft.rfft(x.astype(np.float64), axis=1)
    assert np.abs(y[..., 0] + 1j * y[..., 1] - ref).max() <= 1e-5 * np.abs(ref).max()
    # the user's explicit pass option wins over the log's
    mine = CompileOptions(tuning_log=tmp_path / "log", pass_options={OPTION: 2})
    module = fftc.compile(rfft_path, options=mine)
    assert any("2x2x2" in d for d in module.decisions if "[fft-to-monarch]" in d)
    shutil.rmtree(tmp_path / "log")
