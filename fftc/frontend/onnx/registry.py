"""Converter registry: one converter per ONNX op type, in per-family modules.

A converter is ``fn(ctx: NodeContext) -> list[str | None]``: it reads the ONNX
node through ``ctx`` and returns the IR value names bound to the node's
outputs (``None`` for an output it does not produce).  ``since`` is the
first opset of the default domain whose semantics the converter implements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fftc.frontend.onnx.context import NodeContext

ConvertFn = Callable[["NodeContext"], list[str | None]]

#: fftc reads models of the default ONNX domain from this opset on
MIN_OPSET = 13


@dataclass(frozen=True)
class Converter:
    op_type: str
    domain: str
    since: int
    fn: ConvertFn


_CONVERTERS: dict[tuple[str, str], Converter] = {}


def converter(
    *op_types: str, domain: str = "", since: int = MIN_OPSET
) -> Callable[[ConvertFn], ConvertFn]:
    """Register ``fn`` as the converter of ``op_types``."""

    def wrap(fn: ConvertFn) -> ConvertFn:
        for op in op_types:
            key = (domain, op)
            if key in _CONVERTERS:
                raise ValueError(f"converter for {domain or 'ai.onnx'}::{op} registered twice")
            _CONVERTERS[key] = Converter(op, domain, since, fn)
        return fn

    return wrap


def lookup(domain: str, op_type: str) -> Converter | None:
    _load()
    return _CONVERTERS.get(("" if domain == "ai.onnx" else domain, op_type))


def supported_ops() -> list[str]:
    _load()
    return sorted(op for _, op in _CONVERTERS)


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from fftc.frontend.onnx.converters import (  # noqa: F401  (registration)
            conv,
            elementwise,
            linalg,
            movement,
            norm,
            reduce,
            spectral,
        )
