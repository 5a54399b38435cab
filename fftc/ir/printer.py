"""The IR's text form (what ``fftc inspect`` prints; :mod:`fftc.ir.parser` reads it back).

::

    graph "gfnet" {
      input %x: f32[1, 14, 14, 64]
      const %w: f32[64, 64] = dense<"eJzt...">          # zlib+base64 of the raw bytes
      const %axes: i64[2] = [1, 2]                        # small constants inline
      %y: f32[1, 14, 14, 64] = add(%x, %b) loc("/blocks.0/Add")
      %s: f32[...] = slice(%y) {starts = [0, 0], ends = [1, 7], steps = [1, 1]}
      output %y as "logits"
    }

Attributes print in field order; optional inputs that are absent print as ``_``.
With ``elide=True`` large constants print as ``dense<elided sha256=...>``
(readable, and still parseable when the caller supplies the data).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import zlib
from enum import Enum
from typing import Any

import numpy as np

from fftc.ir.graph import Constant, Graph, Node
from fftc.ir.types import TensorType

INLINE_LIMIT = 16
_BARE = re.compile(r"^[A-Za-z0-9_./\-]+$")


def name_token(name: str) -> str:
    return "%" + (name if _BARE.match(name) else json.dumps(name))


def format_value(v: Any) -> str:
    """An attribute value in IR text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, Enum):
        return str(v.short) if hasattr(v, "short") else json.dumps(v.value)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, tuple | list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    raise TypeError(f"cannot print attribute value {v!r}")


def constant_digest(data: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:16]


def format_constant_data(data: np.ndarray, elide: bool) -> str:
    if data.size <= INLINE_LIMIT:
        flat = data.reshape(-1).tolist()
        return format_value([_scalar(x) for x in flat])
    if elide:
        return f'dense<elided sha256="{constant_digest(data)}">'
    raw = zlib.compress(np.ascontiguousarray(data).tobytes(), 6)
    return f'dense<"{base64.b64encode(raw).decode("ascii")}">'


def _scalar(x: Any) -> Any:
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, float | np.floating):
        return float(x)
    return int(x)


def format_type(t: TensorType) -> str:
    return str(t)


def format_node(node: Node) -> str:
    outs = ", ".join(f"{name_token(v.name)}: {v.type}" for v in node.outputs)
    args = ", ".join("_" if i is None else name_token(i) for i in node.inputs)
    text = f"{outs} = {node.op}({args})"
    fields = [(f.name, getattr(node.attrs, f.name)) for f in dataclasses.fields(node.attrs)]
    if fields:
        text += " {" + ", ".join(f"{k} = {format_value(v)}" for k, v in fields) + "}"
    if node.name:
        text += f" loc({json.dumps(node.name)})"
    return text


def format_constant(c: Constant, elide: bool) -> str:
    v = c.value
    return f"const {name_token(v.name)}: {v.type} = {format_constant_data(c.data, elide)}"


def print_graph(graph: Graph, elide: bool = False) -> str:
    """The graph as text; ``elide`` hides the data of large constants."""
    lines = [f"graph {json.dumps(graph.name)} {{"]
    lines += [f"  input {name_token(v.name)}: {v.type}" for v in graph.inputs]
    lines += [f"  {format_constant(c, elide)}" for c in graph.constants]
    lines += [f"  {format_node(n)}" for n in graph.nodes]
    for value, name in zip(graph.outputs, graph.output_names, strict=True):
        alias = "" if name == value else f" as {json.dumps(name)}"
        lines.append(f"  output {name_token(value)}{alias}")
    lines.append("}")
    return "\n".join(lines) + "\n"
