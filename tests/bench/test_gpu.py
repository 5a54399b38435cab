"""``fftc bench --target cuda`` (suite ``longconv-gpu``): its cases, the bandwidth floor
and FlashFFTConv columns on fake timings, the runner on the host (PyTorch on the CPU,
fftc for llvm), the errors without a GPU, and one real run on a GPU (skipped here)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from fftc.bench.gpu_report import GPU_HEADER, format_gpu_table, gpu_table_rows, gpu_to_json
from fftc.bench.gpu_specs import (
    Bandwidth,
    GpuInfo,
    flashfftconv_ms,
    floor_ms,
    io_bytes,
    nominal_bandwidth,
)
from fftc.bench.runner import CaseResult, Measurement
from fftc.bench.suites import SUITES, Case, select_cases
from fftc.bench.timing import Settings, Timing
from fftc.cli.main import main
from fftc.errors import UsageError
from tests.bench.test_bench_cli import bench
from tests.conftest import _has_gpu

H100 = GpuInfo("NVIDIA H100 80GB HBM3", "sm_90", 79.1, Bandwidth(3.35e12, "H100 SXM nominal"))
GPU_SETTINGS = Settings(
    threads=1, target="cuda:sm_90", rtol_from_dtype=True, implementations=("fftc", "torch")
)


def _case(length: int, dtype: str) -> Case:
    return next(c for c in SUITES["longconv-gpu"].cases if c.name == f"L={length} {dtype}")


# -- cases ------------------------------------------------------------------------------------


def test_gpu_suite_cases() -> None:
    suite = SUITES["longconv-gpu"]
    assert suite.device == "cuda"
    assert [c.name for c in suite.cases if c.dtype == "fp16"] == [
        "L=1024 fp16", "L=4096 fp16", "L=8192 fp16", "L=16384 fp16", "L=32768 fp16"
    ]  # fmt: skip
    assert {c.dtype for c in suite.cases} == {"fp16", "bf16", "fp32"}
    assert all((c.param("B"), c.param("H")) == (64, 768) for c in suite.cases)
    assert all(c.dtype == "fp32" for s in SUITES.values() if s.device == "cpu" for c in s.cases)


def test_gpu_case_selection() -> None:
    default = select_cases(["longconv-gpu"], dtypes=("fp16", "bf16"))
    assert len(default) == 10
    assert [c.name for c in default[:3]] == ["L=1024 fp16", "L=1024 bf16", "L=4096 fp16"]
    one = select_cases(["longconv-gpu"], sizes=[1024], dtypes=("fp16",))
    assert [c.name for c in one] == ["L=1024 fp16"]
    # larger L only when --sizes names it
    assert max(c.param("L") for c in select_cases(["longconv-gpu"])) == 32768
    big = select_cases(["longconv-gpu"], sizes=[65536, 1048576], dtypes=("bf16",))
    assert [c.name for c in big] == ["L=65536 bf16", "L=1048576 bf16"]
    quick = select_cases(["longconv-gpu"], quick=True, sizes=[1024], dtypes=("fp16", "bf16"))
    assert [c.name for c in quick] == ["L=1024 fp16", "L=1024 bf16"]
    assert all((c.param("B"), c.param("H")) == (4, 32) for c in quick)
    with pytest.raises(UsageError, match=r"^--sizes 16 matches no case"):  # not fp16's 16
        select_cases(["longconv-gpu"], sizes=[16])
    with pytest.raises(UsageError, match=r"^--dtype fp16 matches no case of fnet"):
        select_cases(["fnet"], dtypes=("fp16",))


# -- the table --------------------------------------------------------------------------------


def test_nominal_bandwidths() -> None:
    rates = {
        "NVIDIA H100 80GB HBM3": 3.35e12,
        "NVIDIA H100 PCIe": 2.0e12,
        "NVIDIA H200": 4.8e12,
        "NVIDIA A100-SXM4-80GB": 2.0e12,
        "NVIDIA A100 80GB PCIe": 2.0e12,
    }
    for name, rate in rates.items():
        found = nominal_bandwidth(name)
        assert found is not None, name
        assert found.bytes_per_s == rate
    for unknown in ("NVIDIA H100 NVL", "NVIDIA A100-SXM4-40GB", "NVIDIA GeForce RTX 4090"):
        assert nominal_bandwidth(unknown) is None  # measured with a copy instead


def test_floor_and_published_times() -> None:
    case = _case(1024, "fp16")
    assert io_bytes(case) == 2 * 64 * 768 * 1024 * 2
    assert floor_ms(case, H100.bandwidth) == pytest.approx(201326592 / 3.35e12 * 1e3)
    assert floor_ms(_case(32768, "fp32"), H100.bandwidth) == pytest.approx(3.846, abs=1e-3)
    published = [flashfftconv_ms(_case(n, "bf16")) for n in (1024, 4096, 8192, 16384, 32768)]
    assert published == [0.29, 1.43, 3.58, 12.2, 26.3]
    assert flashfftconv_ms(_case(1024, "fp32")) is None
    assert flashfftconv_ms(SUITES["longconv-gpu"].quick_cases[0]) is None  # another shape


def _ok(impl: str, ms: float, variant: str = "", err: float = 1e-3) -> Measurement:
    return Measurement(impl, variant, timing=Timing(ms, ms, ms, 5), max_rel_err=err)


def _results() -> list[CaseResult]:
    return [
        CaseResult(
            _case(1024, "fp16"),
            Path("m.onnx"),
            True,
            [_ok("fftc", 0.12), _ok("torch", 0.5, "cuFFT fp16"), _ok("torch", 0.4, "x", 0.5)],
            1e-2,
        ),
        CaseResult(
            _case(1024, "fp32"),
            Path("m.onnx"),
            True,
            [_ok("fftc", 0.3, err=1e-6), _ok("torch", 0.6, "cuFFT fp32", 0.0)],
            1e-4,
        ),
        CaseResult(
            _case(32768, "bf16"),
            Path("m.onnx"),
            True,
            [
                Measurement("fftc", status="error", reason="CUDA out of memory"),
                _ok("torch", 40.0, "cuFFT fp32, inputs cast"),
            ],
            5e-2,
        ),
    ]


def test_gpu_table_rows() -> None:
    rows = gpu_table_rows(_results(), H100)
    assert rows[0] == (
        "L=1024 fp16", "0.120", "-", "0.500 (cuFFT fp16)", "4.17x", "0.29", "0.060", "50%"
    )  # fmt: skip
    assert rows[1] == ("L=1024 fp32", "0.300", "-", "0.600 (cuFFT fp32)", "2.00x", "", "0.120",
                       "40%")  # fmt: skip
    assert rows[2] == ("L=32768 bf16", "error", "-", "40.0 (cuFFT fp32, inputs cast)", "-",
                       "26.3", "1.92", "-")  # fmt: skip


def test_gpu_table_text() -> None:
    text = format_gpu_table(_results(), GPU_SETTINGS, H100)
    lines = text.splitlines()
    assert all(h in lines[0] for h in GPU_HEADER)
    assert "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB), B=64, H=768" in text
    assert "/ 3.35 TB/s (H100 SXM nominal)" in text
    assert "this device is no H100" not in text
    assert "'!' above fp32 0.0001, fp16 0.01, bf16 0.05" in text
    assert "fftc error: CUDA out of memory [longconv-gpu L=32768 bf16]" in text
    assert "! torch(x): max rel err 5.0e-01 > 0.01 [longconv-gpu L=1024 fp16]" in text
    other = GpuInfo("NVIDIA L4", "sm_89", 22.0, Bandwidth(2.5e11, "measured: copy"))
    assert "this device is no H100" in format_gpu_table(_results(), GPU_SETTINGS, other)


def test_gpu_json_document() -> None:
    doc = gpu_to_json(_results(), GPU_SETTINGS, {"tvm": 1}, {"cpu_model": "x"}, H100, ["fftc"])
    doc = json.loads(json.dumps(doc))  # plain JSON
    assert doc["machine"]["gpu"] == "NVIDIA H100 80GB HBM3"
    assert doc["machine"]["bandwidth_bytes_per_s"] == 3.35e12
    assert doc["settings"]["dtype"] == ["bf16", "fp16", "fp32"]
    assert doc["settings"]["batch"] == [64]
    first = doc["cases"][0]
    assert first["dtype"] == "fp16"
    assert first["flashfftconv_h100_ms"] == 0.29
    assert first["floor_fraction"] == pytest.approx(
        floor_ms(_case(1024, "fp16"), H100.bandwidth) / 0.12
    )
    assert first["speedup"] == pytest.approx(0.5 / 0.12)
    assert doc["cases"][2]["floor_fraction"] is None


# -- the runner on the host -------------------------------------------------------------------


class _FakeEvent:
    """torch.cuda.Event on the host clock."""

    def __init__(self, enable_timing: bool = False) -> None:
        self.t = 0.0

    def record(self) -> None:
        self.t = time.perf_counter()

    def elapsed_time(self, end: _FakeEvent) -> float:
        return (end.t - self.t) * 1e3


@pytest.fixture
def host_gpu(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The GPU runner with PyTorch on the CPU and fftc compiling for llvm."""
    torch = pytest.importorskip("torch")
    from fftc.bench import gpu_runner

    monkeypatch.setattr(gpu_runner, "DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (1 << 40, 1 << 40))
    return gpu_runner


@pytest.mark.torch
def test_runner_on_the_host(host_gpu: Any, tmp_path: Path) -> None:
    cases = [
        Case("longconv-gpu", f"L=64 {dt}", (("B", 3), ("H", 4), ("L", 64)), 64.0, dt)
        for dt in ("fp32", "fp16", "bf16")
    ]
    settings = Settings(
        threads=1,
        target="llvm",
        repeat=3,
        warmup=1,
        min_time_s=0,
        max_time_s=1,
        rtol_from_dtype=True,
        implementations=("fftc", "torch"),
    )
    lines: list[str] = []
    results = host_gpu.run_gpu_cases(cases, settings, tmp_path, lines.append)
    assert [r.rtol for r in results] == [1e-4, 1e-2, 5e-2]
    for r in results:
        fftc = r.first("fftc")
        assert fftc is not None
        assert fftc.ok, (r.case.name, fftc)
        assert not fftc.flagged(r.rtol)
        assert fftc.timing is not None
        assert fftc.timing.runs == 3
        torch_ok = [m for m in r.measurements if m.impl == "torch" and m.ok]
        assert torch_ok
        assert all(m.max_rel_err is not None for m in torch_ok)
    # llvm has no half precision: fp16/bf16 fall back to float32 compute, with a note
    assert not any("compiled with --dtype fp32" in d for d in results[0].measurements[0].details)
    assert any("compiled with --dtype fp32" in d for d in results[1].measurements[0].details)
    variants = [m.variant for m in results[1].measurements if m.impl == "torch"]
    assert variants == ["cuFFT fp32, inputs cast", "cuFFT fp16"]  # fp16 FFTs: GPU only
    assert sum(": exported " in line for line in lines) == 3
    text = format_gpu_table(results, settings, H100)
    assert text.splitlines()[2].startswith("L=64 fp32")


@pytest.mark.torch
def test_runner_refuses_cases_larger_than_the_memory(
    host_gpu: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (40 << 30, 80 << 30))
    case = select_cases(["longconv-gpu"], sizes=[1048576], dtypes=("fp16",))[0]
    (r,) = host_gpu.run_gpu_cases([case], GPU_SETTINGS, tmp_path, lambda _line: None)
    assert [(m.impl, m.status) for m in r.measurements] == [("fftc", "n/a"), ("torch", "n/a")]
    assert "needs at least 576 GiB of device memory" in r.measurements[0].reason
    assert not list(tmp_path.iterdir())  # nothing exported


@pytest.mark.torch
def test_reference_and_export_of_the_gated_convolution(tmp_path: Path) -> None:
    import numpy as np
    import onnx
    import torch

    from fftc.bench.export import cached_model
    from fftc.bench.gpu_models import GatedLongConvGPU, export_gpu_onnx, make_inputs, reference_impl
    from fftc.bench.suites import make_problem

    case = Case("longconv-gpu", "L=16 fp32", (("B", 2), ("H", 3), ("L", 16)), 16.0)
    pr = make_problem(case)
    inputs = make_inputs(case, 0, device="cpu")
    u, pre, post = (inputs[n].double().numpy() for n in ("u", "pre", "post"))
    k, d = pr.weights["k"].astype(np.float64), pr.weights["D"].astype(np.float64)
    conv = np.array([[np.convolve(row, k[h])[:16] for h, row in enumerate(b)] for b in u * pre])
    exact = (conv + d[:, None] * u) * post
    with torch.inference_mode():
        got = reference_impl(pr, "cpu")(inputs).double().numpy()
        module = GatedLongConvGPU(pr)(*inputs.values()).double().numpy()
    np.testing.assert_allclose(got, exact, atol=1e-5 * np.abs(exact).max())
    np.testing.assert_allclose(module, exact, atol=1e-5 * np.abs(exact).max())
    path, _ = cached_model(pr, tmp_path, export_gpu_onnx)
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["u", "pre", "post"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param  # the batch is symbolic: fftc pins it to B
    assert [d.dim_value for d in dims[1:]] == [3, 16]


@pytest.mark.torch
def test_max_rel_err() -> None:
    import torch

    from fftc.bench.gpu_models import max_rel_err

    ref = torch.linspace(-2, 2, 5 * 3 * 4).reshape(5, 3, 4)
    assert max_rel_err(ref.half(), ref, rows=2) < 1e-3
    assert max_rel_err(ref + 0.02, ref, rows=2) == pytest.approx(0.01)
    assert max_rel_err(ref[:4], ref) == float("inf")
    broken = ref.clone()
    broken[4, 0, 0] = float("nan")
    assert max_rel_err(broken, ref, rows=2) == float("inf")


# -- the command ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "cuda:sm_90", "fnet"], "--target 'cuda:sm_90': suite fnet runs on this CPU"),
        (["longconv-gpu"], "suite longconv-gpu runs on a CUDA GPU: give --target cuda"),
        (["fnet", "--dtype", "fp16"], "--dtype fp16: the CPU suites run in fp32"),
        (["--target", "cuda", "--dtype", "fp8"], "--dtype 'fp8': give one or more of fp16,"),
        (["--target", "cuda", "--impl", "ort"], "--impl: onnxruntime is measured on the CPU"),
        (["--target", "cuda", "--plot", "p.png"], "--plot: the GPU suite has no plot yet"),
        (["--target", "rocm"], "--target 'rocm': fftc bench measures on this CPU (llvm,"),
    ],
)
def test_gpu_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fftc: error: {message}"), err


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU")
@pytest.mark.parametrize(
    "args", [["--target", "cuda:sm_90", "longconv-gpu"], ["--target", "cuda:sm_90", "--quick"]]
)
def test_without_a_gpu_fails_fast(args: list[str]) -> None:
    t0 = time.perf_counter()
    r = bench(*args, timeout=1200)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith(
        "fftc: error: --target cuda:sm_90: fftc bench runs its GPU suite on a CUDA device, "
        "and no CUDA device was found here: "
    ), r.stderr
    assert "Run it on a machine with an NVIDIA GPU" in r.stderr
    assert "'fftc compile MODEL.onnx --target cuda:sm_90 -o m.fftc'" in r.stderr
    assert "Traceback" not in r.stderr
    assert time.perf_counter() - t0 < 60  # before exporting or compiling anything


# -- on a GPU ---------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.torch
def test_quick_run_on_the_gpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    r = bench("--target", "cuda", "--sizes", "1024", "--quick", "--cache-dir",
              str(tmp_path / "cache"), "--json", str(out), timeout=1200)  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["case", "fftc", "ms"]
    assert [line.split()[:2] for line in lines[2:4]] == [["L=1024", "fp16"], ["L=1024", "bf16"]]
    assert " !" not in r.stdout
    doc = json.loads(out.read_text())
    assert doc["settings"]["device"] == "cuda"
    for case in doc["cases"]:
        assert case["floor_ms"] > 0
        for m in case["implementations"]:
            if m["impl"] == "fftc" or m["variant"].startswith("cuFFT fp32"):
                assert m["status"] == "ok", m
                assert m["median_ms"] > 0
                assert not m["flagged"], m


@pytest.mark.gpu
@pytest.mark.torch
def test_measured_bandwidth_and_cuda_timing() -> None:
    import torch

    from fftc.bench.gpu_runner import measured_bandwidth, time_cuda

    bandwidth = measured_bandwidth(1 << 26, copies=3)
    assert 1e10 < bandwidth.bytes_per_s < 2e13
    x = torch.ones(1 << 20, device="cuda")
    t = time_cuda(lambda: x * 2, 5)
    assert t.runs == 5
    assert 0 < t.min_ms <= t.median_ms
