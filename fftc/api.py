"""``fftc.compile``: ONNX model -> runnable, exportable :class:`~fftc.runtime.Module`.

The stages, in order (every name works with ``fftc inspect --stage``):

    ir -> <graph passes: fold-constants, simplify, spectral-fusion, conv-to-fft, sparsity,
           fft-to-monarch, dce> -> relax
       -> fused -> tir
       -> module
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from fftc import __version__
from fftc.errors import CompileError, FftcError, UsageError
from fftc.ir import Graph, IRError, print_graph
from fftc.passes import PassContext, pass_names, run_pipeline
from fftc.runtime.manifest import Manifest, TensorSpec
from fftc.runtime.module import Module
from fftc.target import TargetSpec, parse_target

log = logging.getLogger("fftc")

#: every stage name, in pipeline order
FRONTEND_STAGES = ("ir",)
BACKEND_STAGES = ("relax", "fused", "fuse-blocks", "tir")
#: stages that exist only for cuda targets: the generated CUDA source
CUDA_STAGES = ("cuda",)


def stage_names(target: str | TargetSpec | None = None) -> list[str]:
    """Every stage name; with a cuda ``target``, ``cuda`` (the CUDA source) too."""
    names = [*FRONTEND_STAGES, *pass_names(), *BACKEND_STAGES]
    if target is not None and parse_target(target).kind == "cuda":
        names += CUDA_STAGES
    return names


@dataclass
class CompileOptions:
    """What a compile may be asked for beyond model and target."""

    input_shapes: Mapping[str, Sequence[int]] = field(default_factory=dict)
    #: accept NaN/Inf in weights (refused by default: usually a corrupt model)
    allow_nonfinite: bool = False
    verify_each: bool = True
    pass_options: dict[str, Any] = field(default_factory=dict)
    #: a tuning log (directory) written by ``fftc tune`` for this target
    tuning_log: str | os.PathLike[str] | None = None
    #: without ``tuning_log``: apply the shipped logs of ``tuning_logs/`` for this target
    shipped_logs: bool = True
    #: compute precision for cuda targets: fp32 (default), fp16 or bf16
    dtype: str = "fp32"


Progress = Callable[[str, float], None]
StageHook = Callable[[str, Any], None]


def import_model(
    model: str | os.PathLike[str] | onnx.ModelProto,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    allow_nonfinite: bool = False,
) -> Graph:
    """The fftc IR of an ONNX model (stage ``ir``)."""
    from fftc.frontend.onnx import import_onnx

    try:
        return import_onnx(model, input_shapes, allow_nonfinite)
    except IRError as err:
        raise CompileError(f"import produced an invalid graph (an fftc bug): {err}") from err


def _model_name(model: str | os.PathLike[str] | onnx.ModelProto) -> str:
    """The model's name: its file stem, or its graph's name."""
    if isinstance(model, onnx.ModelProto):
        return model.graph.name or "model"
    return Path(model).stem


def _model_identity(model: str | os.PathLike[str] | onnx.ModelProto) -> tuple[str, str]:
    """The model's name and its sha256 ("" for a path that is not a file)."""
    if isinstance(model, onnx.ModelProto):
        return _model_name(model), hashlib.sha256(model.SerializeToString()).hexdigest()
    path = Path(model)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    return _model_name(model), digest


def _cpu_flags(spec: TargetSpec) -> list[str]:
    from fftc.codegen.target_info import required_cpu_flags

    return required_cpu_flags(spec)


def compile(
    model: str | os.PathLike[str] | onnx.ModelProto,
    target: str | TargetSpec | None = "llvm",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    *,
    allow_nonfinite: bool = False,
    options: CompileOptions | None = None,
    on_stage: StageHook | None = None,
    progress: Progress | None = None,
) -> Module:
    """Compile an ONNX model for ``target`` and return the runnable module.

    ``input_shapes`` pins symbolic dims; ``allow_nonfinite`` accepts NaN/Inf
    weights; ``on_stage(name, ir)`` is called with the IR after every stage;
    ``progress(stage, seconds)`` after each step finishes.
    """
    from fftc.codegen.build import build
    from fftc.codegen.tvm_api import tvm_version

    opts = options or CompileOptions()
    shapes = dict(input_shapes or opts.input_shapes)
    spec = parse_target(target)
    dtype = _compute_dtype(opts.dtype, spec)
    hook = on_stage or (lambda _n, _ir: None)
    tick = progress or (lambda _s, _t: None)

    t0 = time.perf_counter()
    graph = import_model(model, shapes, allow_nonfinite or opts.allow_nonfinite)
    hook("ir", graph)
    tick("import", time.perf_counter() - t0)

    t0 = time.perf_counter()
    logged, logged_from = _logged_pass_options(opts.tuning_log, spec, model, opts.shipped_logs)
    pass_options = {**logged, **opts.pass_options}
    ctx = PassContext(pass_options_for(pass_options, spec, dtype), verify_each=opts.verify_each)
    try:
        graph = run_pipeline(graph, ctx, on_stage=hook)
    except IRError as err:
        raise CompileError(f"a graph pass produced an invalid graph (an fftc bug): {err}") from err
    tick("passes", time.perf_counter() - t0)

    t0 = time.perf_counter()
    tuned, shipped = _tuning_lookup(opts.tuning_log, spec, opts.shipped_logs)
    result = build(graph, spec, on_stage=hook, tuned=tuned, dtype=dtype)
    assert result is not None
    if opts.tuning_log is not None:
        _report_tuning(opts.tuning_log, result.schedule)
    tick("codegen", time.perf_counter() - t0)

    t0 = time.perf_counter()
    name, digest = _model_identity(model)
    with tempfile.TemporaryDirectory(prefix="fftc-build-") as tmp:
        lib = Path(tmp) / "module.so"
        try:
            result.executable.export_library(str(lib))
        except Exception as err:
            raise CompileError(f"linking the compiled library failed: {err}") from err
        if spec.kind == "cuda":
            _check_fatbin(lib)
        manifest = Manifest(
            inputs=tuple(
                TensorSpec(v.name, v.type.shape, v.type.dtype.value) for v in graph.inputs
            ),
            outputs=tuple(
                TensorSpec(n, v.type.shape, v.type.dtype.value)
                for v, n in zip(graph.output_values, graph.output_names, strict=True)
            ),
            target={**spec.to_dict(), "cpu_flags": _cpu_flags(spec), **_dtype_entry(spec, dtype)},
            fftc_version=__version__,
            tvm_version=tvm_version(),
            library="module.so",
            library_sha256=_sha256(lib),
            library_size=lib.stat().st_size,
            model_name=name,
            model_sha256=digest,
            extra={"schedule_failed": sorted(result.schedule.failed)},
        )
        module = Module(manifest, lib, print_graph(graph, elide=True))
    module.decisions = [
        *(str(d) for d in ctx.decisions),
        *(f"[lower] {note}" for note in result.notes),
        *(f"[fuse-blocks] {line}" for line in result.fusion),
        *([f"[tune] compute knobs from {logged_from}: {_knobs_text(logged)}"] if logged else []),
        *(
            f"[schedule] {fn}: {', '.join(sorted(set(used))) or 'no template'}"
            for fn, used in sorted(result.schedule.scheduled.items())
        ),
        *(
            f"[schedule] {fn}: left unscheduled ({why})"
            for fn, why in sorted(result.schedule.failed.items())
        ),
        *(
            [f"[tune] shipped tuning logs for {spec.key}: {', '.join(p.name for p in shipped)}"]
            if shipped
            else []
        ),
        *(
            f"[tune] {fn}: schedule from the {'shipped ' if shipped else ''}tuning log"
            for fn in sorted(result.schedule.tuned)
        ),
        *(
            f"[tune] {fn}: default schedule ({why})"
            for fn, why in sorted(result.schedule.untuned.items())
        ),
    ]
    tick("link", time.perf_counter() - t0)
    return module


def pass_options_for(
    options: Mapping[str, Any] | None, spec: TargetSpec, dtype: str = "float32"
) -> dict[str, Any]:
    """The graph passes' options: the user's, plus ``target_kind`` (``llvm``, ``cuda``)
    for the per-target cost models (fft-to-monarch's factorization) and the compute
    ``dtype`` (monarch-length's plans)."""
    return {**(options or {}), "target_kind": spec.kind, "compute_dtype": dtype}


def _logged_pass_options(
    path: str | os.PathLike[str] | None,
    spec: TargetSpec,
    model: str | os.PathLike[str] | onnx.ModelProto,
    shipped: bool = True,
) -> tuple[dict[str, Any], str]:
    """The compute knobs (graph pass options) ``fftc tune`` chose into the log at
    ``path`` (else into a shipped log tuned on this model), and where they came from."""
    if path is not None:
        from fftc.tune.log import TuningLog

        return dict(TuningLog.open(path, spec).compute_options or {}), "the tuning log"
    if not shipped:
        return {}, ""
    from fftc.tune.shipped import shipped_pass_options

    options, where = shipped_pass_options(spec, _model_name(model))
    return options, f"the shipped tuning log {where.name}" if where else ""


def _knobs_text(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items()))


def _tuning_lookup(
    path: str | os.PathLike[str] | None, spec: TargetSpec, shipped: bool = True
) -> tuple[Any, list[Path]]:
    """The schedule lookup for the build (None without a log) and the shipped logs used:
    the given tuning log, else the shipped ones for this target (``fftc.tune.shipped``)."""
    from fftc.codegen.build import tvm_target

    if path is not None:
        from fftc.tune.log import TuningLog

        return TuningLog.open(path, spec).lookup(tvm_target(spec)), []
    if not shipped:
        return None, []
    from fftc.tune.shipped import shipped_lookup

    return shipped_lookup(spec, tvm_target(spec))


def _report_tuning(path: str | os.PathLike[str] | None, report: Any) -> None:
    """Says which functions the tuning log had no schedule for (they use the defaults)."""
    missing = sorted(fn for fn, why in report.untuned.items() if "keeps the default" not in why)
    if missing:
        log.warning(
            "tuning log %s has no schedule for %d of %d functions (default schedules used): %s",
            path, len(missing), len(report.tuned) + len(report.untuned), ", ".join(missing),
        )  # fmt: skip
    log.info("tuning log %s: %d functions tuned", path, len(report.tuned))


def _compute_dtype(name: str, spec: TargetSpec) -> str:
    from fftc.codegen.cuda_build import compute_dtype

    return compute_dtype(name, spec)


def _dtype_entry(spec: TargetSpec, dtype: str) -> dict[str, str]:
    """The manifest's record of a cuda target's compute precision."""
    return {"dtype": dtype} if spec.kind == "cuda" else {}


def _check_fatbin(lib: Path) -> None:
    from fftc.codegen.cuda import has_fatbin

    if not has_fatbin(lib):
        raise CompileError(
            "the CUDA library holds no compiled GPU code (no fatbin), only CUDA source; "
            "TVM's CUDA runtime did not load for code generation"
        )


def _sha256(path: Path) -> str:
    from fftc.runtime.artifact import sha256_file

    return sha256_file(path)


__all__ = ["CompileOptions", "FftcError", "UsageError", "compile", "import_model", "stage_names"]


class _Stop(Exception):
    """Raised by the stage hook once the wanted stage was seen."""


def inspect_stage(
    model: str | os.PathLike[str] | onnx.ModelProto,
    stage: str,
    target: str | TargetSpec | None = "llvm",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    elide: bool = True,
    allow_nonfinite: bool = False,
    pass_options: Mapping[str, Any] | None = None,
    dtype: str = "fp32",
    tuning_log: str | os.PathLike[str] | None = None,
    shipped_logs: bool = True,
) -> str:
    """The text of the IR after ``stage`` (see :func:`stage_names`); for cuda targets,
    stage ``cuda`` is the generated CUDA source and ``dtype`` the compute precision.
    ``tuning_log`` / ``shipped_logs``: the schedules the ``tir`` stage shows, as for
    :func:`compile`."""
    spec = parse_target(target)
    names = stage_names(spec)
    if stage in CUDA_STAGES and spec.kind != "cuda":
        raise UsageError(
            f"stage {stage!r} exists for cuda targets only (e.g. --target cuda:sm_90); "
            f"target {spec} has: {', '.join(names)}"
        )
    if stage not in names:
        raise UsageError(f"unknown stage {stage!r}; stages are: {', '.join(names)}")
    compute = _compute_dtype(dtype, spec)
    captured: dict[str, str] = {}

    def hook(name: str, ir: Any) -> None:
        if name == stage:
            if isinstance(ir, Graph):
                captured[name] = print_graph(ir, elide=elide)
            else:
                captured[name] = ir if isinstance(ir, str) else ir.script()
            raise _Stop

    graph = import_model(model, input_shapes, allow_nonfinite)
    try:
        hook("ir", graph)
        logged, _ = _logged_pass_options(tuning_log, spec, model, shipped_logs)
        ctx = PassContext(pass_options_for({**logged, **(pass_options or {})}, spec, compute))
        graph = run_pipeline(graph, ctx, on_stage=hook)
        from fftc.codegen.build import build

        tuned, _ = _tuning_lookup(tuning_log, spec, shipped_logs)
        build(graph, spec, on_stage=hook, dtype=compute, tuned=tuned)
    except _Stop:
        pass
    except IRError as err:
        raise CompileError(f"a graph pass produced an invalid graph (an fftc bug): {err}") from err
    return captured[stage]
