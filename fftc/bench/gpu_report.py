"""The GPU suite's table and JSON document: the CPU table's fftc and PyTorch columns, plus
FlashFFTConv's published H100 time, the bandwidth floor and fftc's fraction of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fftc.bench.gpu_specs import (
    GPU_RTOL,
    GpuInfo,
    flashfftconv_ms,
    floor_ms,
    io_bytes,
)
from fftc.bench.report import aligned, cell, fmt_ms, footnotes, to_json
from fftc.bench.runner import CaseResult
from fftc.bench.timing import Settings

GPU_HEADER = (
    "case",
    "fftc ms",
    "compile s",
    "torch ms (which)",
    "speedup",
    "FlashFFTConv H100 ms",
    "floor ms",
    "floor/fftc",
)


def floor_fraction(r: CaseResult, info: GpuInfo) -> float | None:
    """The bandwidth floor over fftc's time (1: fftc runs at the floor), when fftc ran."""
    ours = r.first("fftc")
    if ours is None or not ours.ok or ours.flagged(r.rtol):
        return None
    return floor_ms(r.case, info.bandwidth) / ours.median_ms


def gpu_table_rows(results: Sequence[CaseResult], info: GpuInfo) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in results:
        ours, speedup = r.first("fftc"), r.speedup()
        published = flashfftconv_ms(r.case)
        fraction = floor_fraction(r, info)
        rows.append(
            (
                r.case.name,
                cell(ours, r.rtol),
                f"{ours.compile_s:.1f}" if ours and ours.compile_s is not None else "-",
                cell(r.first("torch"), r.rtol, which=True),
                f"{speedup:.2f}x" if speedup is not None else "-",
                f"{published:g}" if published is not None else "",  # as published
                fmt_ms(floor_ms(r.case, info.bandwidth)),
                f"{fraction:.0%}" if fraction is not None else "-",
            )
        )
    return rows


def format_gpu_table(results: Sequence[CaseResult], settings: Settings, info: GpuInfo) -> str:
    lines = aligned([GPU_HEADER, *gpu_table_rows(results, info)])
    shapes = sorted({(r.case.param("B"), r.case.param("H")) for r in results})
    shape_text = "; ".join(f"B={b}, H={h}" for b, h in shapes)
    if settings.rtol_from_dtype:
        rtol_text = ", ".join(f"{k} {v:g}" for k, v in GPU_RTOL.items())
    else:
        rtol_text = f"{settings.rtol:g} (--rtol)"
    lines += [
        "",
        f"{info.describe()}, {shape_text}, median ms (fftc: TVM's time_evaluator; torch: "
        "CUDA events around each call). speedup = fastest torch / fftc.",
        "torch: PyTorch eager with cuFFT, the fastest numerically sound variant: 'cuFFT fp16' "
        "(half-precision FFTs; PyTorch has them for powers of two only, and none in bf16) or "
        "'cuFFT fp32[, inputs cast]' (float32 FFTs, half inputs cast up, the output cast back).",
        f"floor = (bytes of u read + y written) / {info.bandwidth.describe()}; the gates pre "
        "and post are not counted (they double it). floor/fftc: fftc's fraction of the floor.",
        "FlashFFTConv H100 ms: its published times at B=64, H=768 (half precision), "
        "not measured here" + ("" if "H100" in info.name else "; this device is no H100"),
        "numerics: max|out - ref| / max|ref| against PyTorch's float32 FFT convolution of the "
        f"same inputs; '!' above {rtol_text}.",
    ]
    lines += footnotes(results)
    return "\n".join(lines)


def gpu_to_json(
    results: Sequence[CaseResult],
    settings: Settings,
    threads: dict[str, int],
    machine: dict[str, Any],
    info: GpuInfo,
    command: Sequence[str],
) -> dict[str, Any]:
    """The CPU suites' document (schema ``fftc-bench/1``) with the GPU's fields added."""
    doc = to_json(results, settings, threads, {**machine, **info.to_json()}, command)
    doc["settings"]["dtype"] = sorted({r.case.dtype for r in results})
    doc["settings"]["batch"] = sorted({r.case.param("B") for r in results})
    doc["settings"]["device"] = "cuda"
    doc["timing"] = (
        "median of timed runs after warm-up; fftc with TVM's time_evaluator on "
        "tvm.cuda(0), PyTorch with CUDA events around each call, same device tensors"
    )
    doc["reference"] = (
        "PyTorch's float32 FFT convolution of the same inputs on the GPU; "
        "max_rel_err = max|out - ref| / max|ref|"
    )
    for r, case_doc in zip(results, doc["cases"], strict=True):
        case_doc["dtype"] = r.case.dtype
        case_doc["rtol"] = r.rtol
        case_doc["io_bytes"] = io_bytes(r.case)
        case_doc["floor_ms"] = floor_ms(r.case, info.bandwidth)
        case_doc["floor_fraction"] = floor_fraction(r, info)
        case_doc["flashfftconv_h100_ms"] = flashfftconv_ms(r.case)
    return doc
