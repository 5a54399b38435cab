"""kit_report.py: the device kit's numerics check, results, columns and table, in pure
Python.

Carried into a kit beside ``run_kit.py`` (source: ``fftc/bench/kit_report.py``); it
imports neither fftc nor any third-party package.  The numbers it compares with
(FlashFFTConv's published H100 times, nominal HBM bandwidths, tolerances, item sizes)
come from the kit's ``kit.json``, written from :mod:`fftc.bench.gpu_specs` at build
time, so they have one source.  The floor is ``gpu_specs``'s: u read + y written once at
the device's bandwidth, ``2 * B * H * L * itemsize / bandwidth``.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

#: one implementation's result: status ("ok", "error", "n/a") and, when ok, times (ms),
#: runs, max relative error and whether it is over the tolerance ("flag")
Measurement = dict[str, Any]


def measured(times_ms: list[float], err: float, rtol: float) -> Measurement:
    """An ``ok`` measurement: the median (and min, max) of ``times_ms``, checked numerics."""
    return {
        "status": "ok",
        "median_ms": statistics.median(times_ms),
        "min_ms": min(times_ms),
        "max_ms": max(times_ms),
        "runs": len(times_ms),
        "max_rel_err": err,
        "flag": not err <= rtol,  # NaN is flagged too
    }


def failed(status: str, reason: str) -> Measurement:
    """An implementation that did not run (``error``) or could not (``n/a``), and why."""
    return {"status": status, "reason": reason}


def max_rel_err(out: Any, ref: Any, rows: int = 4) -> float:
    """max|out - ref| / max|ref| in float32, a few batch rows at a time (no second
    full-size float32 copy); inf for a wrong shape or non-finite values.  ``out`` and
    ``ref`` are PyTorch tensors (only their methods are used: no import here)."""
    if tuple(out.shape) != tuple(ref.shape):
        return float("inf")
    worst, scale = 0.0, 0.0
    for start in range(0, ref.shape[0], rows):
        part = out[start : start + rows].float()
        if not bool(part.isfinite().all()):
            return float("inf")
        expected = ref[start : start + rows]
        worst = max(worst, float((part - expected).abs().max()))
        scale = max(scale, float(expected.abs().max()))
    return worst / scale if scale > 0 else (0.0 if worst == 0 else float("inf"))


def first_line(err: BaseException) -> str:
    """An error's first line (TVM's errors carry long backtraces)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def describe(m: Measurement) -> str:
    """One line: time and error, or status and reason."""
    if m["status"] != "ok":
        return f"{m['status']} ({m['reason']})"
    flag = " (over the tolerance)" if m["flag"] else ""
    return f"{m['median_ms']:.4g} ms, max rel err {m['max_rel_err']:.2e}{flag}"


def nominal_bandwidth(reference: dict[str, Any], device_name: str) -> tuple[float, str] | None:
    """The nominal bandwidth (bytes/s) and its label for a CUDA device name, from the
    kit's table (first matching pattern), or None for a device it does not know."""
    for pattern, label, rate in reference["nominal_bandwidth"]:
        if re.search(pattern, device_name, re.IGNORECASE):
            return float(rate), f"{label} nominal"
    return None


def add_columns(row: dict[str, Any], reference: dict[str, Any], rate: float) -> None:
    """The best sound PyTorch variant, the speedup torch / fftc, FlashFFTConv's published
    time (at its shape, half precision only) and the bandwidth floor at ``rate``."""
    sound = {n: m for n, m in row["torch"].items() if m["status"] == "ok" and not m["flag"]}
    best = min(sound, key=lambda n: sound[n]["median_ms"]) if sound else None
    fftc = row["fftc"]
    ok = fftc["status"] == "ok"
    published = reference["flashfftconv_h100_ms"].get(str(row["L"]))
    shape_ok = [row["B"], row["H"]] == reference["flashfftconv_shape"] and row["dtype"] != "fp32"
    io_bytes = 2 * row["B"] * row["H"] * row["L"] * reference["itemsize"][row["dtype"]]
    row["torch_best"] = best
    row["speedup"] = sound[best]["median_ms"] / fftc["median_ms"] if ok and best else None
    row["flashfftconv_h100_ms"] = published if shape_ok else None
    row["floor_ms"] = io_bytes / rate * 1e3
    row["floor_fraction"] = row["floor_ms"] / fftc["median_ms"] if ok else None


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def table(rows: list[dict[str, Any]], floor_label: str) -> str:
    """The Markdown table: the columns of docs/benchmarks.md's GPU table, plus fftc's
    error ('!' marks a time whose output is over the tolerance)."""
    lines = [
        "| case | fftc ms | compile s | torch ms (which) | speedup | FlashFFTConv H100 ms "
        f"| floor ms ({floor_label}) | floor/fftc | fftc err |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        f, best = r["fftc"], r["torch_best"]
        ok = f["status"] == "ok"
        cells = [
            r["case"],
            _ms(f["median_ms"]) + (" !" if f["flag"] else "") if ok else f["status"],
            f"{r['compile_s']:.0f}" if r.get("compile_s") is not None else "",
            f"{_ms(r['torch'][best]['median_ms'])} ({best})" if best else "n/a",
            f"{r['speedup']:.2f}x" if r["speedup"] else "",
            _ms(r["flashfftconv_h100_ms"]),
            _ms(r["floor_ms"]),
            f"{r['floor_fraction']:.2f}" if r["floor_fraction"] else "",
            f"{f['max_rel_err']:.1e}" if ok else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def explanations(rows: list[dict[str, Any]]) -> list[str]:
    """One line per failed, flagged or n/a implementation."""
    lines = []
    for r in rows:
        for name, m in [("fftc", r["fftc"]), *r["torch"].items()]:
            if m["status"] != "ok" or m["flag"]:
                lines.append(f"{r['case']} {name}: {describe(m)}")
    return lines
