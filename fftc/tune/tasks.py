"""Tuning tasks: a model's fused PrimFuncs, deduplicated by workload.

After Relax's fusion (stage ``fused``) a model is a Relax ``main`` that calls
PrimFuncs with ``call_tir``.  Each distinct PrimFunc (by structural hash:
two layers of the same shape are one task) is one tuning task, weighted by
how often ``main`` calls it.  A task's *workload* is the PrimFunc as the
module ``{"main": func}`` (with ``global_symbol = "main"``): the key under
which MetaSchedule's database stores its measurements, and under which
``fftc compile --tuning-log`` looks it up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import onnx

from fftc.codegen.fusion_report import iter_blocks
from fftc.codegen.tvm_api import ir, relax, structural_hash, tirx, tvm
from fftc.schedules.base import KERNEL_ATTR
from fftc.target import TargetSpec


@dataclass
class Task:
    """One tuning task: a fused PrimFunc and where the model calls it."""

    name: str
    func: tirx.PrimFunc
    key: str
    #: how many times the model calls it (call sites of every PrimFunc with this workload)
    weight: int = 1
    #: the other PrimFunc names with the same workload
    aliases: list[str] = field(default_factory=list)
    #: fftc kernel kinds of its blocks (``fft.stage``, ``conv`` ...); empty: generic code only
    kernels: tuple[str, ...] = ()

    @property
    def mod(self) -> ir.IRModule:
        """A fresh deep copy of the workload: TVM's schedule state may rewrite the nodes of
        the module it is given in place, so nothing shares them with ``func``."""
        return deep_copy(task_module(self.func))

    @property
    def is_kernel(self) -> bool:
        """Whether it holds blocks of an fftc kernel (searched with fftc's knobs only)."""
        return bool(self.kernels)


def task_module(func: tirx.PrimFunc) -> ir.IRModule:
    """The workload of a PrimFunc: ``{"main": func}``, as tuning and lookups see it."""
    return ir.IRModule({"main": func.with_attr("global_symbol", "main")})


def deep_copy(mod: ir.IRModule) -> ir.IRModule:
    """A copy of ``mod`` that shares no node with it (through TVM's JSON form)."""
    return tvm.ir.load_json(tvm.ir.save_json(mod))


def workload_key(func: tirx.PrimFunc) -> str:
    """A stable hex key of a PrimFunc's workload (its structural hash)."""
    return f"{int(structural_hash(task_module(func))) & 0xFFFFFFFFFFFFFFFF:016x}"


def kernel_kinds(func: tirx.PrimFunc) -> tuple[str, ...]:
    """The ``fftc.kernel`` tags of a PrimFunc's blocks, sorted."""
    blocks = iter_blocks(func.body)
    tags = {str(b.annotations[KERNEL_ATTR]) for b in blocks if KERNEL_ATTR in b.annotations}
    return tuple(sorted(tags))


def call_counts(mod: ir.IRModule) -> dict[str, int]:
    """How often each PrimFunc is called with ``call_tir`` from the module's Relax functions."""
    call_tir = tvm.ir.Op.get("relax.call_tir")
    counts: dict[str, int] = {}

    def visit(expr: Any) -> None:
        if isinstance(expr, relax.Call) and expr.op.same_as(call_tir):
            name = str(expr.args[0].name_hint)
            counts[name] = counts.get(name, 0) + 1

    for _gvar, func in mod.functions_items():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return counts


def tasks_of_module(mod: ir.IRModule) -> list[Task]:
    """The tuning tasks of a fused Relax module, in the order ``main`` defines them."""
    counts = call_counts(mod)
    by_key: dict[str, Task] = {}
    for gvar, func in mod.functions_items():
        if not isinstance(func, tirx.PrimFunc):
            continue
        name = str(gvar.name_hint)
        key = workload_key(func)
        calls = counts.get(name, 0)
        if key in by_key:
            by_key[key].weight += calls
            by_key[key].aliases.append(name)
            continue
        by_key[key] = Task(name, func, key, calls, [], kernel_kinds(func))
    return [t for t in by_key.values() if t.weight > 0]


def fused_module(
    model: str | os.PathLike[str] | onnx.ModelProto,
    spec: TargetSpec,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    allow_nonfinite: bool = False,
    pass_options: Mapping[str, Any] | None = None,
) -> ir.IRModule:
    """The model after stage ``fused`` (imported, graph passes, lowered, fused)."""
    from fftc.api import import_model, pass_options_for
    from fftc.codegen.build import build
    from fftc.passes import PassContext, run_pipeline

    graph = import_model(model, input_shapes, allow_nonfinite)
    graph = run_pipeline(graph, PassContext(pass_options_for(pass_options, spec)))
    captured: dict[str, Any] = {}

    def keep(name: str, module: Any) -> None:
        captured[name] = module

    build(graph, spec, on_stage=keep, stop_after="fused")
    return captured["fused"]


def extract_tasks(
    model: str | os.PathLike[str] | onnx.ModelProto,
    spec: TargetSpec,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    allow_nonfinite: bool = False,
    pass_options: Mapping[str, Any] | None = None,
) -> list[Task]:
    """The tuning tasks of a model for ``spec``."""
    mod = fused_module(model, spec, input_shapes, allow_nonfinite, pass_options)
    return tasks_of_module(mod)
