"""Small PyTorch reference models for fftc, one module per architecture family.

`EXAMPLES` lists every exported example: the headline ones (group "onnx") first, then one
model per family (group "zoo"), then models with symbolic dims (group "dynamic").
"""

from __future__ import annotations

from . import (
    afno,
    convnext,
    fftnet,
    fnet,
    fno,
    gfnet,
    h3,
    hyena,
    inceptionnext,
    m2_bert,
    replknet,
    unireplknet,
)
from .registry import ExampleSpec

_FAMILIES = (
    hyena,
    h3,
    m2_bert,
    replknet,
    unireplknet,
    convnext,
    inceptionnext,
    fnet,
    gfnet,
    afno,
    fno,
    fftnet,
)
_ALL = [spec for family in _FAMILIES for spec in family.EXAMPLES]

EXAMPLES: tuple[ExampleSpec, ...] = (
    *(spec for spec in _ALL if spec.group == "onnx"),
    *(spec for spec in _ALL if spec.group == "zoo"),
    *(spec for spec in _ALL if spec.group == "dynamic"),
)

__all__ = ["EXAMPLES", "ExampleSpec"]
