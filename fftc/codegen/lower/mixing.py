"""``freq_mix`` -> fftc's per-frequency channel mixing kernel."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fftc.codegen.lower.registry import Expr, LowerContext, lowers
from fftc.codegen.tvm_api import relax
from fftc.ir import Node
from fftc.ir.ops.mixing import FreqMixAttrs


@lowers("freq_mix")
def freq_mix(ctx: LowerContext, node: Node, args: Sequence[Expr | None]) -> list[Expr]:
    from fftc.kernels.freq_mix import freq_mix_compute

    a = node.attrs
    assert isinstance(a, FreqMixAttrs)
    w = ctx.input_type(node, 1).shape
    ctx.notes.append(
        f"{node.label}: per-frequency channel mixing ({w[0]} x {w[1]} per group, {a.groups} groups)"
    )
    flat = (*w[:3], math.prod(w[3:]))
    weight = args[1]
    data: Any = getattr(weight, "value", None)  # a relax constant: its tensor
    if data is not None and hasattr(data, "numpy"):  # flattened here, not copied per call
        weight = relax.const(data.numpy().reshape(flat))
    elif len(w) != 4:
        weight = ctx.bb.emit(relax.op.reshape(weight, flat))
    y = ctx.bb.emit_te(freq_mix_compute, args[0], weight, a.groups, primfunc_name_hint="freq_mix")
    return [y]
