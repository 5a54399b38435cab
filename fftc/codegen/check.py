"""Checks of scheduled TIR, run on every scheduled PrimFunc; a schedule that
fails one is not used (the function is compiled unscheduled instead).

``unguarded_writes`` finds blocks whose iteration domain is larger than the
buffer they write, with no predicate guarding the excess: the pattern TVM
0.27's ``reverse_compute_at`` leaves when it drops a block predicate, which
writes out of bounds at run time.  ``lowering_error`` runs TVM's TIR lowering
passes on the function alone, so a schedule TVM cannot lower never reaches
code generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fftc.codegen.tvm_api import Target, ir, tir_lowering_passes, tirx


def _children(stmt: Any) -> Iterator[Any]:
    for attr in ("seq", "body", "block", "init", "then_case", "else_case"):
        child = getattr(stmt, attr, None)
        if child is None:
            continue
        if attr == "seq":
            yield from child
        else:
            yield child


def _realizes(stmt: Any) -> Iterator[Any]:
    if hasattr(stmt, "iter_values") and hasattr(stmt, "predicate"):
        yield stmt
    for child in _children(stmt):
        yield from _realizes(child)


def _const(expr: Any) -> int | None:
    return int(expr.value) if isinstance(expr, tirx.IntImm) else None


def unguarded_writes(func: tirx.PrimFunc) -> list[str]:
    """Blocks that may write outside a buffer (see module doc)."""
    problems = []
    for realize in _realizes(func.body):
        if _const(realize.predicate) != 1:
            continue  # guarded
        block = realize.block
        extent = {iv.var: _const(iv.dom.extent) for iv in block.iter_vars}
        for region in block.writes:
            buffer = region.source
            for dim, rng in zip(buffer.shape, region.region, strict=False):
                size, span = _const(dim), extent.get(rng.min)
                if size is not None and span is not None and span > size:
                    problems.append(
                        f"block {block.name_hint} iterates {span} over a dim of "
                        f"{size} of {buffer.name} without a guard"
                    )
    return problems


def lowering_error(func: tirx.PrimFunc, target: Target) -> str | None:
    """The first line of TVM's error when lowering ``func`` fails, else None."""
    mod = ir.IRModule({"main": func.with_attrs({"global_symbol": "main", "target": target})})
    try:
        with target:
            tir_lowering_passes()(mod)
    except Exception as err:  # any lowering failure means: do not use this schedule
        lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
        return lines[-1] if lines else type(err).__name__
    return None
