"""Read the IR text form written by :mod:`fftc.ir.printer`.

Attribute values are coerced to each op's attribute dataclass field types
(``tuple[int, ...]``, ``float | None``, :class:`DType` ...), so a printed
graph parses back to an equal graph.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import types
import typing
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from fftc.ir.graph import Attrs, Constant, Graph, IRError, Node, Value
from fftc.ir.ops import get_op
from fftc.ir.printer import constant_digest
from fftc.ir.types import DType, TensorType

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+|\#[^\n]*)
  | (?P<name>%(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9_./\-]+))
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf\b)|nan\b)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>->|[{}()\[\],:=<>_])
    """,
    re.VERBOSE,
)


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str, int]] = []
        pos = 0
        line = 1
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise IRError(f"line {line}: unexpected text {text[pos : pos + 20]!r}")
            kind = m.lastgroup or ""
            if kind != "ws":
                self.items.append((kind, m.group(), line))
            line += m.group().count("\n")
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.items[self.i] if self.i < len(self.items) else ("eof", "", -1)

    def next(self) -> tuple[str, str, int]:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        kind, val, line = self.next()
        if val != text:
            raise IRError(f"line {line}: expected {text!r}, got {val or kind!r}")

    def accept(self, text: str) -> bool:
        if self.peek()[1] == text:
            self.i += 1
            return True
        return False

    def take(self, kind: str) -> str:
        k, val, line = self.next()
        if k != kind:
            raise IRError(f"line {line}: expected a {kind}, got {val or k!r}")
        return val


def _name(tokens: _Tokens) -> str:
    raw = tokens.take("name")[1:]
    return str(json.loads(raw)) if raw.startswith('"') else raw


def _type(tokens: _Tokens) -> TensorType:
    line = tokens.peek()[2]
    try:
        dtype = DType.parse(tokens.take("ident"))
    except IRError as err:
        raise IRError(f"line {line}: {err}") from None
    tokens.expect("[")
    dims: list[int] = []
    while not tokens.accept("]"):
        dims.append(int(tokens.take("number")))
        tokens.accept(",")
    return TensorType(tuple(dims), dtype)


def _literal(tokens: _Tokens) -> Any:
    kind, val, line = tokens.next()
    if kind == "number":
        return float(val) if any(c in val for c in ".eEn") else int(val)
    if kind == "string":
        return json.loads(val)
    if kind == "ident":
        return {"true": True, "false": False, "none": None}.get(val, val)
    if val == "[":
        items = []
        while not tokens.accept("]"):
            items.append(_literal(tokens))
            tokens.accept(",")
        return items
    raise IRError(f"line {line}: expected a value, got {val!r}")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for opt in options:
            if opt is type(None):
                continue
            try:
                return _coerce(value, opt, where)
            except (IRError, ValueError, TypeError) as err:
                errors.append(str(err))
        raise IRError(f"{where}: {value!r} fits none of {hint}")
    if origin is tuple:
        if not isinstance(value, list):
            raise IRError(f"{where}: expected a list, got {value!r}")
        (elem, *_rest) = typing.get_args(hint)
        return tuple(_coerce(v, elem, where) for v in value)
    if hint is DType:
        try:
            return DType.parse(str(value))
        except IRError as err:
            raise IRError(f"{where}: {err}") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise IRError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise IRError(f"{where}: expected an int, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise IRError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise IRError(f"{where}: expected a string, got {value!r}")
        return value
    raise IRError(f"{where}: unsupported attribute type {hint}")


def make_attrs(cls: type[Attrs], values: Mapping[str, Any], where: str) -> Attrs:
    """Build ``cls`` from parsed values, coercing each to its field's type."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - fields
    if unknown:
        raise IRError(f"{where}: unknown attributes {sorted(unknown)} for {cls.__name__}")
    kwargs = {k: _coerce(v, hints[k], f"{where}: attribute {k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise IRError(f"{where}: {err}") from None


def _constant_data(
    tokens: _Tokens, name: str, ttype: TensorType, supplied: Mapping[str, np.ndarray]
) -> np.ndarray:
    if tokens.peek()[1] == "[":
        flat = _literal(tokens)
        return np.asarray(flat, dtype=ttype.dtype.numpy()).reshape(ttype.shape)
    tokens.expect("dense")
    tokens.expect("<")
    kind, val, line = tokens.next()
    if kind == "string":
        raw = zlib.decompress(base64.b64decode(json.loads(val)))
        data = np.frombuffer(raw, dtype=ttype.dtype.numpy()).reshape(ttype.shape)
    elif val == "elided":
        tokens.expect("sha256")
        tokens.expect("=")
        digest = json.loads(tokens.take("string"))
        if name not in supplied:
            raise IRError(f"line {line}: constant %{name} is elided and no data was supplied")
        data = np.asarray(supplied[name])
        if constant_digest(data) != digest:
            raise IRError(f"line {line}: supplied data for %{name} does not match its digest")
    else:
        raise IRError(f"line {line}: bad constant data for %{name}")
    tokens.expect(">")
    return data


def parse_graph(text: str, constants: Mapping[str, np.ndarray] | None = None) -> Graph:
    """Parse IR text; ``constants`` supplies the data of elided constants by name."""
    supplied = constants or {}
    tokens = _Tokens(text)
    tokens.expect("graph")
    gname = json.loads(tokens.take("string"))
    tokens.expect("{")
    inputs: list[Value] = []
    consts: list[Constant] = []
    nodes: list[Node] = []
    outputs: list[str] = []
    out_names: list[str] = []
    while not tokens.accept("}"):
        kind, val, line = tokens.peek()
        if val == "input":
            tokens.next()
            name = _name(tokens)
            tokens.expect(":")
            inputs.append(Value(name, _type(tokens)))
        elif val == "const":
            tokens.next()
            name = _name(tokens)
            tokens.expect(":")
            ttype = _type(tokens)
            tokens.expect("=")
            data = _constant_data(tokens, name, ttype, supplied)
            consts.append(Constant(Value(name, ttype), data))
        elif val == "output":
            tokens.next()
            value = _name(tokens)
            outputs.append(value)
            out_names.append(json.loads(tokens.take("string")) if tokens.accept("as") else value)
        elif kind == "name":
            nodes.append(_node(tokens))
        else:
            raise IRError(f"line {line}: unexpected {val or kind!r}")
    return Graph(
        gname, tuple(inputs), tuple(consts), tuple(nodes), tuple(outputs), tuple(out_names)
    )


def _node(tokens: _Tokens) -> Node:
    line = tokens.peek()[2]
    outs: list[Value] = []
    while True:
        name = _name(tokens)
        tokens.expect(":")
        outs.append(Value(name, _type(tokens)))
        if not tokens.accept(","):
            break
    tokens.expect("=")
    op = tokens.take("ident")
    where = f"line {line}: {op}"
    try:
        opdef = get_op(op)
    except IRError as err:
        raise IRError(f"line {line}: {err}") from None
    tokens.expect("(")
    args: list[str | None] = []
    while not tokens.accept(")"):
        args.append(None if tokens.accept("_") else _name(tokens))
        tokens.accept(",")
    values: dict[str, Any] = {}
    if tokens.accept("{"):
        while not tokens.accept("}"):
            key = tokens.take("ident")
            tokens.expect("=")
            values[key] = _literal(tokens)
            tokens.accept(",")
    loc = ""
    if tokens.accept("loc"):
        tokens.expect("(")
        loc = json.loads(tokens.take("string"))
        tokens.expect(")")
    attrs = make_attrs(opdef.attrs, values, where)
    return Node(op, tuple(args), tuple(outs), attrs, loc)
