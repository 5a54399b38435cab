"""Helpers for inlining elementwise blocks safely (shared by the driver and templates)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fftc.codegen.tvm_api import Analyzer, TensorLoad, tirx

from .base import KERNEL_ATTR


def _numel(buffer: Any) -> int | None:
    try:
        n = 1
        for d in buffer.shape:
            n *= int(d)
        return n
    except TypeError:
        return None


def covers_producers(sch: Any, block: Any) -> bool:
    """Whether ``block`` writes as many elements as each producer it reads.

    Reverse-inlining a consumer that reads only part of its producer (a slice)
    leaves a block predicate, and TVM 0.27's ``reverse_compute_at`` drops
    block predicates: the block would then write out of bounds.  Such
    consumers are not reverse-inlined.

    Nor is a consumer whose producer has other consumers: TVM 0.27's
    ``reverse_compute_inline`` does not check for them, drops the producer's
    buffer and leaves them reading it ("Buffer ... is used before its
    definition" when lowering).  This happens when an elementwise block read
    twice (a residual add before a GELU) is inlined into both its consumers.
    """
    out = [_numel(w.source) for w in sch.get(block).writes]
    for producer in sch.get_producers(block):
        if len(sch.get_consumers(producer)) > 1:
            return False
        for w in sch.get(producer).writes:
            if _numel(w.source) is None or [_numel(w.source)] != out:
                return False
    return True


def _walk(expr: Any) -> Iterator[Any]:
    """Every node of a TIR expression (operands, call arguments, loads' indices)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        for field in ("a", "b", "value", "condition", "true_value", "false_value", "body"):
            child = getattr(node, field, None)
            if child is not None and not isinstance(child, int | float | str):
                stack.append(child)
        for field in ("args", "indices"):
            stack.extend(getattr(node, field, None) or ())


def _conditions(value: Any) -> list[Any]:
    """The conditions of the ``if_then_else`` calls in an expression."""
    return [
        node.args[0]
        for node in _walk(value)
        if getattr(getattr(node, "op", None), "name", "").endswith("if_then_else")
    ]


def has_conditional_value(sch: Any, block: Any) -> bool:
    """Whether the block's value selects between loads (concat, pad: ``if_then_else``)."""
    value = getattr(sch.get(block).body, "value", None)
    return value is not None and bool(_conditions(value))


def _conditional_dims(sch: Any, producer: Any) -> set[int]:
    """The dims of the producer's output whose index decides its ``if_then_else``."""
    stmt = sch.get(producer)
    value = getattr(stmt.body, "value", None)
    if value is None:
        return set()
    cond_vars = [n for c in _conditions(value) for n in _walk(c) if isinstance(n, tirx.Var)]
    dims = set()
    for region in stmt.writes:
        for d, rng in enumerate(region.region):
            if any(rng.min.same_as(v) for v in cond_vars):
                dims.add(d)
    return dims


def unsafe_to_inline(sch: Any, producer: Any, consumer: Any) -> bool:
    """TVM 0.27 miscompiles (wrong values) when a block whose value is an
    ``if_then_else`` (concat, pad) is inlined into a consumer, or the consumer
    into it, while the consumer indexes the dim that decides the condition
    through reshape arithmetic (``//``, ``%``).  (Seen with a reshape after a
    concat; inlining into fftc's FFT stages, which index their sources with
    ``//``/``%`` too, compiles correctly and is allowed.)"""
    if KERNEL_ATTR in sch.get(consumer).annotations:
        return False  # fftc's kernels read their sources through their own index maps
    dims = _conditional_dims(sch, producer)
    if not dims:
        return False
    written = [w.source for w in sch.get(producer).writes]
    divmod_types = (tirx.FloorDiv, tirx.FloorMod, tirx.Div, tirx.Mod)
    analyzer = Analyzer()
    for iv in sch.get(consumer).iter_vars:  # simplify with the consumer's var ranges
        analyzer.bind(iv.var, iv.dom)
    for read in sch.get(consumer).reads:
        if any(read.source.same_as(b) for b in written):
            for d in dims:
                if d >= len(read.region):
                    continue
                index = analyzer.simplify(read.region[d].min)
                if any(isinstance(n, divmod_types) for n in _walk(index)):
                    return True
    return False


#: an inlined expression may be copied this many nodes' worth into a consumer
INLINE_BUDGET = 256


def duplicates_work(sch: Any, producer: Any, consumer: Any) -> bool:
    """Whether merging ``producer`` into ``consumer`` (either way: inlining or
    reverse-inlining) copies a big expression that the consumer reads several
    times.  Fast tanh/erf read their input repeatedly: chained, every merge
    multiplies the expression, and compile time explodes."""
    value = getattr(sch.get(producer).body, "value", None)
    c_value = getattr(sch.get(consumer).body, "value", None)
    if value is None or c_value is None:
        return False
    written = [w.source for w in sch.get(producer).writes]
    uses = sum(
        1
        for n in _walk(c_value)
        if isinstance(n, TensorLoad) and any(n.source.same_as(b) for b in written)
    )
    return uses > 1 and sum(1 for _ in _walk(value)) * uses > INLINE_BUDGET
