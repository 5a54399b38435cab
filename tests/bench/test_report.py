"""Measuring a candidate (statuses, numerics flags), the table, the JSON document and the
plot, on fake candidates and synthetic results (no compiler, no PyTorch)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from fftc.bench.baselines import Candidate, Prepared
from fftc.bench.report import HEADER, SCHEMA, format_table, to_json, write_json, write_plot
from fftc.bench.runner import CaseResult, Measurement, measure
from fftc.bench.suites import SUITES
from fftc.bench.timing import NotAvailable, Settings, Timing, time_calls
from fftc.errors import CompileError

SETTINGS = Settings(threads=2, repeat=3, warmup=2, min_time_s=0, max_time_s=1)
EXPECTED = np.linspace(-1, 1, 16).reshape(4, 4)
THREADS = {"tvm": 2, "torch": 2, "onnxruntime": 2}


def _candidate(output: np.ndarray, calls: list[str] | None = None) -> Candidate:
    log = calls if calls is not None else []

    def run() -> np.ndarray:
        log.append("run")
        return output

    def prepare() -> Prepared:
        return Prepared(run, lambda n: time_calls(run, n), compile_s=0.5, details=["chose x"])

    return Candidate("fftc", "", prepare)


def test_measure_checks_numerics_then_times() -> None:
    calls: list[str] = []
    m = measure(_candidate(EXPECTED.astype(np.float32), calls), EXPECTED, SETTINGS)
    assert m.status == "ok"
    assert m.timing is not None
    assert m.timing.runs == 3
    assert m.max_rel_err is not None
    assert m.max_rel_err < 1e-7
    assert not m.flagged(1e-4)
    assert len(calls) == 1 + 1 + 3  # numerics call, one more warm-up, three timed runs
    assert (m.compile_s, m.details) == (0.5, ["chose x"])


def test_measure_flags_wrong_outputs() -> None:
    assert measure(_candidate(EXPECTED * 1.001), EXPECTED, SETTINGS).flagged(1e-4)
    wrong_shape = measure(_candidate(EXPECTED[:2]), EXPECTED, SETTINGS)
    assert wrong_shape.flagged(1e-4)
    assert wrong_shape.max_rel_err == float("inf")


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (NotAvailable("no DFT converter"), "n/a", "no DFT converter"),
        (CompileError("lowering failed"), "error", "lowering failed"),
        (RuntimeError("boom\n  detail"), "error", "RuntimeError:   detail"),
    ],
)
def test_measure_turns_failures_into_statuses(error: Exception, status: str, reason: str) -> None:
    def prepare() -> Prepared:
        raise error

    m = measure(Candidate("tvm", "", prepare), EXPECTED, SETTINGS)
    assert (m.status, m.reason, m.timing) == (status, reason, None)


def _ok(impl: str, ms: float, variant: str = "", err: float = 1e-7) -> Measurement:
    return Measurement(impl, variant, timing=Timing(ms, ms, ms, 3), max_rel_err=err, compile_s=1.0)


def _results() -> list[CaseResult]:
    lc, dw = SUITES["longconv"].cases[0], SUITES["dwconv2d"].cases[3]
    return [
        CaseResult(
            lc,
            Path("lc.onnx"),
            True,
            [
                _ok("fftc", 1.0),
                _ok("torch", 2.5, "fft"),
                _ok("onnxruntime", 90.0),
                Measurement("tvm", status="n/a", reason="TVM's ONNX frontend has no DFT converter"),
            ],
            1e-4,
        ),
        CaseResult(
            dw,
            Path("dw.onnx"),
            False,
            [
                _ok("fftc", 0.2, err=3e-3),  # flagged
                _ok("torch", 0.1, "fft", err=1.0),  # faster but wrong: not the best
                _ok("torch", 0.4, "direct"),
                _ok("onnxruntime", 0.3),
                _ok("tvm", 0.6),
            ],
            1e-4,
        ),
    ]


def test_best_baseline_and_speedup() -> None:
    lc, dw = _results()
    assert lc.best_baseline() is lc.measurements[1]
    assert lc.speedup() == pytest.approx(2.5)
    best = dw.best_baseline()
    assert best is not None
    assert best.impl == "onnxruntime"
    assert dw.speedup() == pytest.approx(1.5)
    assert dw.first("torch") is dw.measurements[2]  # the sound variant


def test_table() -> None:
    text = format_table(_results(), SETTINGS, THREADS)
    lines = text.splitlines()
    assert lines[0].split("  ")[0] == "suite"
    assert all(h in lines[0] for h in HEADER)
    lc_row = next(line for line in lines if line.startswith("longconv"))
    assert lc_row.split() == ["longconv", "L=1024", "1.00", "1.0", "2.50", "(fft)", "90.0",
                              "n/a", "2.50", "(torch)", "2.50x"]  # fmt: skip
    dw_row = next(line for line in lines if line.startswith("dwconv2d"))
    assert "0.200 !" in dw_row
    assert "0.400 (direct)" in dw_row
    assert "1.50x" in dw_row
    assert "threads: tvm 2, torch 2, onnxruntime 2" in text
    assert "tvm n/a: TVM's ONNX frontend has no DFT converter [longconv L=1024]" in text
    assert "! fftc: max rel err 3.0e-03 > 0.0001 [dwconv2d 7x7 C=96 56x56]" in text
    assert "! torch(fft): max rel err 1.0e+00" in text


def test_json_document(tmp_path: Path) -> None:
    doc = to_json(_results(), SETTINGS, THREADS, {"cpu_model": "test"}, ["fftc", "bench"])
    path = tmp_path / "bench.json"
    write_json(path, doc)
    back = json.loads(path.read_text())
    assert back["schema"] == SCHEMA
    assert back["settings"]["threads_used"] == THREADS
    assert back["settings"]["dtype"] == "float32"
    assert back["settings"]["batch"] == 1
    lc, dw = back["cases"]
    assert (lc["suite"], lc["case"], lc["params"]) == ("longconv", "L=1024", {"H": 768, "L": 1024})
    assert lc["speedup"] == pytest.approx(2.5)
    assert lc["best_baseline"] == {"impl": "torch(fft)", "median_ms": 2.5}
    tvm = lc["implementations"][3]
    assert (tvm["status"], tvm["median_ms"]) == ("n/a", None)
    assert "DFT" in tvm["reason"]
    assert [m["flagged"] for m in dw["implementations"]] == [True, True, False, False, False]


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_plot_is_written(tmp_path: Path) -> None:
    path = tmp_path / "bench.png"
    write_plot(path, _results(), "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bench.png"]
