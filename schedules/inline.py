"""Helpers for inlining elementwise blocks safely (shared by the driver and templates)."""

from __future__ import annotations

from typing import Any


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
    """
    out = [_numel(w.source) for w in sch.get(block).writes]
    for producer in sch.get_producers(block):
        for w in sch.get(producer).writes:
            if _numel(w.source) is None or [_numel(w.source)] != out:
                return False
    return True
