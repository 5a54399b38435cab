"""``fftc bench`` as users run it: a --quick run of every suite (table, JSON, plot,
model cache) and the command's errors."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fftc.cli.main import main

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
QUICK_CASES = ["longconv L=32", "longconv L=48", "dwconv2d 5x5 C=4 10x10", "gfnet 8x8x16",
               "fnet 16x24"]  # fmt: skip


def bench(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fftc", "bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench-out")
    args = ["longconv", "dwconv2d", "gfnet", "fnet", "--quick", "--threads", "2"]
    args += ["--cache-dir", str(cache), "--json", str(out / "b.json")]
    if HAS_MATPLOTLIB:
        args += ["--plot", str(out / "b.png")]
    return {"run": bench(*args), "out": out}


@pytest.mark.torch
def test_quick_run_prints_the_table(quick: dict[str, Any]) -> None:
    run = quick["run"]
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[:4] == ["suite", "case", "fftc", "ms"]
    for label in QUICK_CASES:
        assert any(line.split()[:2] == label.split()[:2] for line in lines), label
    assert "threads: tvm 2, torch 2, onnxruntime 2" in run.stdout
    assert "tvm n/a: TVM's ONNX frontend has no DFT converter" in run.stdout
    assert " !" not in run.stdout  # nothing flagged
    assert run.stderr.count(": exported ") == len(QUICK_CASES)  # a fresh cache


@pytest.mark.torch
def test_quick_run_json(quick: dict[str, Any]) -> None:
    assert quick["run"].returncode == 0, quick["run"].stderr
    doc = json.loads((quick["out"] / "b.json").read_text())
    assert doc["schema"] == "fftc-bench/1"
    assert doc["settings"]["threads_used"] == {"tvm": 2, "torch": 2, "onnxruntime": 2}
    assert {"cpu_model", "llvm_cpu", "logical_cpus", "versions", "date"} <= set(doc["machine"])
    assert set(doc["machine"]["versions"]) >= {"fftc", "apache-tvm", "torch", "onnxruntime"}
    assert [f"{c['suite']} {c['case']}" for c in doc["cases"]] == QUICK_CASES
    for case in doc["cases"]:
        impls = {(m["impl"], m["variant"]): m for m in case["implementations"]}
        dft = case["suite"] != "dwconv2d"
        for (impl, variant), m in impls.items():
            if impl == "tvm" and dft:
                assert m["status"] == "n/a"
                assert "DFT" in m["reason"]
                continue
            assert m["status"] == "ok", (case["case"], impl, m["reason"])
            assert m["median_ms"] > 0
            assert m["runs"] >= 3
            assert m["max_rel_err"] < 1e-5, (case["case"], impl, variant)
            assert not m["flagged"]
        assert impls[("fftc", "")]["compile_s"] > 0
        assert impls[("fftc", "")]["details"]
        torch_variants = {v for i, v in impls if i == "torch"}
        assert len(torch_variants) == (2 if case["suite"] != "longconv" else 1)
        best = case["best_baseline"]
        fftc_ms = impls[("fftc", "")]["median_ms"]
        assert case["speedup"] == pytest.approx(best["median_ms"] / fftc_ms)
        baselines = [m["median_ms"] for m in case["implementations"]
                     if m["impl"] in ("torch", "onnxruntime")]  # fmt: skip
        assert best["median_ms"] == min(baselines)


@pytest.mark.torch
@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib")
def test_quick_run_plot(quick: dict[str, Any]) -> None:
    assert quick["run"].returncode == 0, quick["run"].stderr
    assert (quick["out"] / "b.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.torch
def test_rerun_uses_the_cache_and_filters(quick: dict[str, Any], cache: Path) -> None:
    assert quick["run"].returncode == 0, quick["run"].stderr
    models = sorted(p.name for p in cache.iterdir())
    assert len(models) == len(QUICK_CASES)
    run = bench("longconv", "--quick", "--case", "L=48", "--impl", "fftc,ort", "--cache-dir",
                str(cache))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "exported" not in run.stderr
    assert "L=48" in run.stderr
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("longconv")]
    assert [r[1] for r in rows] == ["L=48"]
    assert rows[0][4] == "-"
    assert rows[0][6] == "-"
    assert sorted(p.name for p in cache.iterdir()) == models


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["convnext"], "unknown suite 'convnext'; suites are: longconv, dwconv2d, gfnet, fnet"),
        (["longconv", "--case", "L=7"], "--case 'L=7' matches no case; cases are: longconv L=1024"),
        (["fnet", "--impl", "fftc,jax"], "--impl: unknown 'jax'; implementations are: fftc,"),
        (["fnet", "--impl", " , "], "--impl: name at least one of: fftc, torch,"),
        (["fnet", "--threads", "0"], "--threads must be at least 1"),
        (["fnet", "--seed", "-1"], "--seed must be at least 0"),
        (["fnet", "--rtol", "nan"], "--rtol must be positive"),
        (["fnet", "--min-time", "nan"], "--min-time must be at least 0"),
        (["fnet", "--sizes", "a,b"], "--sizes 'a,b': give whole numbers separated by commas"),
        (["fnet", "--json", "."], ".: is a directory; give a file name for the JSON report"),
        (["fnet", "--target", "cuda:sm_90"], "--target 'cuda:sm_90': suite fnet runs on this CPU"),
    ],
)
def test_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fftc: error: {message}"), err


def test_existing_outputs_need_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "b.json"
    existing.write_text("keep")
    assert main(["bench", "fnet", "--quick", "--json", str(existing)]) == 2
    assert "already exists; pass --force to overwrite it" in capsys.readouterr().err
    assert existing.read_text() == "keep"


def test_plot_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name)
    )
    assert main(["bench", "fnet", "--quick", "--plot", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fftc: error: --plot needs matplotlib: pip install 'fftc[bench]'")
    assert not (tmp_path / "p.png").exists()


def test_help_has_examples() -> None:
    r = bench("--help")
    assert r.returncode == 0
    assert "examples:" in r.stdout
    assert "--threads" in r.stdout


@pytest.mark.torch
def test_fftc_failure_exits_1_after_reporting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fftc.bench import runner
    from fftc.bench.suites import SUITES
    from fftc.bench.timing import Timing

    case = SUITES["fnet"].quick_cases[0]
    broken = runner.CaseResult(
        case,
        tmp_path / "m.onnx",
        True,
        [
            runner.Measurement("fftc", status="error", reason="lowering failed"),
            runner.Measurement("onnxruntime", timing=Timing(1, 1, 1, 3), max_rel_err=1e-7),
        ],
        1e-4,
    )
    monkeypatch.setattr(runner, "run_cases", lambda *args: [broken])
    monkeypatch.setenv("TVM_NUM_THREADS", os.environ.get("TVM_NUM_THREADS", "1"))  # restored
    out = tmp_path / "b.json"
    assert main(["bench", "fnet", "--quick", "-q", "--json", str(out)]) == 1
    captured = capsys.readouterr()
    assert "fftc error: lowering failed [fnet 16x24]" in captured.out
    assert captured.err == "fftc: error: fftc failed or is off by more than --rtol on: fnet 16x24\n"
    assert json.loads(out.read_text())["cases"][0]["implementations"][0]["status"] == "error"


@pytest.mark.torch
def test_output_appearing_during_the_run_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fftc.bench import runner

    out = tmp_path / "b.json"

    def run_cases(*args: object) -> list[runner.CaseResult]:
        out.write_text("keep")  # another program wrote it while the cases ran
        return []

    monkeypatch.setattr(runner, "run_cases", run_cases)
    monkeypatch.setenv("TVM_NUM_THREADS", os.environ.get("TVM_NUM_THREADS", "1"))  # restored
    assert main(["bench", "fnet", "--quick", "-q", "--json", str(out)]) == 2
    assert "already exists; pass --force to overwrite it" in capsys.readouterr().err
    assert out.read_text() == "keep"
