"""Stage ``fuse-blocks``: which ops were fused into each fftc kernel.

After TVM's fusion (stage ``fused``) every fftc kernel (the fused FFT
convolutions, FFTs, direct convolutions, channel mixing) is one PrimFunc that
may also hold the elementwise ops around it (gates, bias, the ``D*u``
residual, activation): those are computed as the kernel writes its output,
with no intermediate in memory.  This module reads that off the fused module:
per PrimFunc, its fftc kernel kinds (the ``fftc.kernel`` block annotations)
and its other blocks, the fused ops.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fftc.codegen.tvm_api import tirx
from fftc.schedules.base import KERNEL_ATTR


@dataclass(frozen=True)
class FusedFunction:
    name: str
    kernels: tuple[str, ...]  # fftc kernel kinds, e.g. ("fft_conv",); empty: TVM code only
    fused_ops: tuple[str, ...]  # the other blocks' names (TVM's op computes)

    def describe(self) -> str:
        ops = ", ".join(self.fused_ops)
        if not self.kernels:
            return f"{self.name}: TVM code ({ops})"
        what = " + ".join(self.kernels)
        if not self.fused_ops:
            return f"{self.name}: {what} (nothing fused into it)"
        plural = "s" if len(self.fused_ops) > 1 else ""
        return f"{self.name}: {what} + {len(self.fused_ops)} fused op{plural} ({ops}), one function"


def iter_blocks(stmt: Any) -> Iterator[Any]:
    """The blocks under a TIR statement (each realize's block), in program order."""
    if hasattr(stmt, "iter_values") and hasattr(stmt, "predicate"):
        yield stmt.block
    for attr in ("seq", "body", "block", "init", "then_case", "else_case"):
        child = getattr(stmt, attr, None)
        if child is None:
            continue
        if attr == "seq":
            for item in child:
                yield from iter_blocks(item)
        else:
            yield from iter_blocks(child)


def fused_functions(mod: Any) -> list[FusedFunction]:
    """Every PrimFunc of the fused module, fftc kernels first."""
    out = []
    for gv, func in mod.functions.items():
        if not isinstance(func, tirx.PrimFunc):
            continue
        kernels: list[str] = []
        ops: list[str] = []
        for block in iter_blocks(func.body):
            if str(block.name_hint) == "root":
                continue
            tag = str(block.annotations.get(KERNEL_ATTR, ""))
            if tag:
                kind = tag.split(".")[0]
                if kind not in kernels:
                    kernels.append(kind)
            else:
                ops.append(str(block.name_hint))
        out.append(FusedFunction(str(gv.name_hint), tuple(kernels), tuple(ops)))
    return sorted(out, key=lambda f: (not f.kernels, f.name))


def fusion_notes(mod: Any) -> list[str]:
    """One line per PrimFunc holding an fftc kernel (for ``--explain``)."""
    return [f.describe() for f in fused_functions(mod) if f.kernels]


def fusion_text(mod: Any) -> str:
    """The ``fuse-blocks`` stage: the fused kernels, then the fused Relax module."""
    funcs = fused_functions(mod)
    lines = ["# fuse-blocks: each line is one function (PrimFunc) after fusion"]
    lines += [f"#   {f.describe()}" for f in funcs]
    return "\n".join(lines) + "\n\n" + mod.script()
