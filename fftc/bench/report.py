"""What ``fftc bench`` prints and writes: the table, the JSON document, the plot."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fftc import __version__
from fftc.bench.runner import CaseResult, Measurement
from fftc.bench.suites import SUITES
from fftc.bench.timing import Settings

SCHEMA = "fftc-bench/1"
#: the implementations of the table and the plot, in order
IMPLS = ("fftc", "torch", "onnxruntime", "tvm")
#: fftc drawn last, on top, so it stays visible where lines cross
STYLE: dict[str, dict[str, Any]] = {
    "fftc": {"marker": "o", "label": "fftc", "zorder": 4, "linewidth": 2},
    "torch": {"marker": "s", "label": "torch (fastest)", "zorder": 3, "markerfacecolor": "none"},
    "onnxruntime": {"marker": "^", "label": "onnxruntime", "zorder": 2},
    "tvm": {"marker": "v", "label": "TVM (untuned)", "zorder": 1},
}
HEADER = (
    "suite",
    "case",
    "fftc ms",
    "compile s",
    "torch ms (which)",
    "ORT ms",
    "TVM ms",
    "best of torch, ORT",
    "speedup",
)


def fmt_ms(ms: float) -> str:
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def cell(m: Measurement | None, rtol: float, which: bool = False) -> str:
    """A table cell: median ms (``!`` when flagged, the variant with ``which``), or status."""
    if m is None:
        return "-"
    if not m.ok:
        return m.status
    text = fmt_ms(m.median_ms) + (" !" if m.flagged(rtol) else "")
    return f"{text} ({m.variant})" if which and m.variant else text


def table_rows(results: Sequence[CaseResult]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in results:
        ours, best, speedup = r.first("fftc"), r.best_baseline(), r.speedup()
        compile_s = f"{ours.compile_s:.1f}" if ours and ours.compile_s is not None else "-"
        best_text = f"{fmt_ms(best.median_ms)} ({best.impl})" if best else "-"
        rows.append(
            (
                r.case.suite,
                r.case.name,
                cell(ours, r.rtol),
                compile_s,
                cell(r.first("torch"), r.rtol, which=True),
                cell(r.first("onnxruntime"), r.rtol),
                cell(r.first("tvm"), r.rtol),
                best_text,
                f"{speedup:.2f}x" if speedup is not None else "-",
            )
        )
    return rows


def aligned(table: Sequence[Sequence[str]]) -> list[str]:
    """The rows (the first is the header) in left-aligned columns, a rule under the header."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def format_table(results: Sequence[CaseResult], settings: Settings, threads: dict[str, int]) -> str:
    lines = aligned([HEADER, *table_rows(results)])
    used = ", ".join(f"{k} {v}" for k, v in threads.items())
    lines += [
        "",
        f"fp32, batch 1, median ms; threads: {used}. speedup = best of (torch, ORT) / fftc.",
        "torch: fastest numerically sound PyTorch eager variant; TVM: untuned "
        "(relax 'zero' pipeline, no MetaSchedule); compile s: fftc's compile time.",
    ]
    lines += footnotes(results)
    return "\n".join(lines)


def footnotes(results: Sequence[CaseResult]) -> list[str]:
    """n/a and error reasons, and numerics flags (against each case's rtol), with the cases."""
    notes: dict[str, list[str]] = {}
    for r in results:
        for m in r.measurements:
            if m.status != "ok":
                notes.setdefault(f"{m.label} {m.status}: {m.reason}", []).append(r.case.label)
            elif m.flagged(r.rtol):
                key = f"! {m.label}: max rel err {m.max_rel_err:.1e} > {r.rtol:g}"
                notes.setdefault(key, []).append(r.case.label)
    return [f"  {note} [{', '.join(cases)}]" for note, cases in notes.items()]


# -- JSON -------------------------------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def machine_info(llvm_cpu: str) -> dict[str, Any]:
    from fftc.threads import usable_cpus

    return {
        "cpu_model": _cpu_model(),
        "llvm_cpu": llvm_cpu,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "fftc": __version__,
            "apache-tvm": _version("apache-tvm"),
            "torch": _version("torch"),
            "onnxruntime": _version("onnxruntime"),
            "onnx": _version("onnx"),
            "numpy": _version("numpy"),
        },
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


def _measurement_json(m: Measurement, rtol: float) -> dict[str, Any]:
    return {
        "impl": m.impl,
        "variant": m.variant,
        "status": m.status,
        "reason": m.reason,
        **(asdict(m.timing) if m.timing else {"median_ms": None}),
        "max_rel_err": _finite(m.max_rel_err),
        "flagged": m.flagged(rtol),
        "compile_s": m.compile_s,
        "details": m.details,
    }


def to_json(
    results: Sequence[CaseResult],
    settings: Settings,
    threads: dict[str, int],
    machine: dict[str, Any],
    command: Sequence[str],
) -> dict[str, Any]:
    cases = []
    for r in results:
        best, speedup = r.best_baseline(), r.speedup()
        cases.append(
            {
                "suite": r.case.suite,
                "case": r.case.name,
                "params": dict(r.case.params),
                "size": r.case.size,
                "model": str(r.model),
                "implementations": [_measurement_json(m, r.rtol) for m in r.measurements],
                "best_baseline": None
                if best is None
                else {"impl": best.label, "median_ms": best.median_ms},
                "speedup": speedup,
            }
        )
    return {
        "schema": SCHEMA,
        "command": list(command),
        "machine": machine,
        "settings": {**asdict(settings), "dtype": "float32", "batch": 1, "threads_used": threads},
        "timing": "median of timed runs after warm-up; fftc and TVM with TVM's time_evaluator "
        "(inputs in TVM tensors), PyTorch and onnxruntime as Python calls",
        "reference": "float64 NumPy; max_rel_err = max|out - ref| / max|ref|",
        "cases": cases,
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(document, indent=2) + "\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


# -- plot ----------------------------------------------------------------------------------------


def write_plot(path: Path, results: Sequence[CaseResult], title: str) -> None:
    """Median time against problem size, one log-log subplot per suite."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    suites = list(dict.fromkeys(r.case.suite for r in results))
    fig, axes = plt.subplots(1, len(suites), figsize=(4.5 * len(suites), 4), squeeze=False)
    for ax, suite in zip(axes[0], suites, strict=True):
        rows = [r for r in results if r.case.suite == suite]
        for impl in IMPLS:
            points = [(r.case.size, m.median_ms) for r in rows if (m := r.first(impl)) and m.ok]
            if points:
                xs, ys = zip(*sorted(points), strict=True)
                ax.plot(xs, ys, **STYLE[impl])
        ax.set_xscale("log")
        ax.set_yscale("log")
        # one tick per case, labelled with its name (log axes' default labels overlap)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks([r.case.size for r in rows])
        ax.set_xticklabels([r.case.name for r in rows], rotation=30, ha="right", fontsize="small")
        ax.set_title(suite)
        ax.set_xlabel(SUITES[suite].size_label)
        ax.set_ylabel("median ms")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title, fontsize="small")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, dpi=120)
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
