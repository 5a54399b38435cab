"""Hypothesis strategies for small chains: elementwise ops, a Conv or DFT head, then
elementwise / movement / spectral steps (fusion and schedule coverage)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from fftc.testing.onnx_builder import graph_model
from tests.properties._common import fft_rtol, randn, rng
from tests.properties.strategies_conv import ConvConfig, conv_configs
from tests.properties.strategies_dft import DFTConfig, dft_configs

#: ops that keep the shape, and their Lipschitz constants (max |f'|)
ACTIVATIONS = {"Relu": 1.0, "Tanh": 1.0, "Sigmoid": 0.25, "Gelu": 1.13}


@dataclass(frozen=True)
class Step:
    """One op applied to the running value."""

    op: str  # Add, Mul, an ACTIVATIONS key, Reshape, Transpose, Residual, Spectral
    const_shape: tuple[int, ...] = ()  # Add / Mul: the broadcast constant's shape
    target: tuple[int, ...] = ()  # Reshape: the shape operand (may hold one -1 / 0s)
    perm: tuple[int, ...] = ()  # Transpose
    approximate: str = "none"  # Gelu
    axis: int = 0  # Spectral: DFT axis
    inverse: bool = False  # Spectral
    unsqueeze: bool = False  # Spectral: add a trailing real dim first

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.op == "Reshape":
            return resolve_reshape(shape, self.target)
        if self.op == "Transpose":
            return tuple(shape[p] for p in self.perm)
        if self.op == "Spectral":
            return (*shape, 2) if self.unsqueeze else (*shape[:-1], 2)
        return shape  # elementwise (broadcasting never grows the value here)


def resolve_reshape(shape: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    dims = [shape[i] if t == 0 else t for i, t in enumerate(target)]
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = math.prod(shape) // known
    return tuple(dims)


@st.composite
def broadcast_shape(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to ``shape``: dims kept or 1, leading dims maybe dropped."""
    dims = tuple(d if draw(st.booleans()) else 1 for d in shape)
    return dims[draw(st.integers(0, len(dims))) :]


@st.composite
def reshape_target(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Merge two adjacent dims, split one, or flatten; encoded with -1 / 0 at times."""
    dims = list(shape)
    kind = draw(st.sampled_from(["merge", "split", "flatten"]))
    if kind == "merge" and len(dims) >= 2:
        i = draw(st.integers(0, len(dims) - 2))
        dims[i : i + 2] = [dims[i] * dims[i + 1]]
    elif kind == "split":
        i = draw(st.integers(0, len(dims) - 1))
        f = draw(st.sampled_from([d for d in range(1, dims[i] + 1) if dims[i] % d == 0]))
        dims[i : i + 1] = [f, dims[i] // f]
    else:
        dims = [dims[0], math.prod(dims[1:])] if len(dims) > 1 else dims
    code = draw(st.sampled_from(["plain", "minus1", "zero"]))
    if code == "minus1":
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    elif code == "zero":  # 0 copies the input dim at the same index
        same = [i for i, d in enumerate(dims) if i < len(shape) and shape[i] == d]
        if same:
            dims[draw(st.sampled_from(same))] = 0
    return tuple(dims)


@st.composite
def step(draw: st.DrawFn, shape: tuple[int, ...], head_shape: tuple[int, ...]) -> Step:
    ops = ["Add", "Mul", *ACTIVATIONS, "Reshape", "Transpose", "Spectral"]
    if shape == head_shape:
        ops.append("Residual")
    if math.prod(shape) > 4096:
        ops.remove("Spectral")  # keep the tensors small
    op = draw(st.sampled_from(ops))
    if op in ("Add", "Mul"):
        return Step(op, const_shape=draw(broadcast_shape(shape)))
    if op == "Gelu":
        return Step(op, approximate=draw(st.sampled_from(["none", "tanh"])))
    if op == "Reshape":
        return Step(op, target=draw(reshape_target(shape)))
    if op == "Transpose":
        return Step(op, perm=tuple(draw(st.permutations(range(len(shape))))))
    if op == "Spectral":
        unsqueeze = shape[-1] not in (1, 2) or len(shape) < 2 or draw(st.booleans())
        rank = len(shape) + unsqueeze
        return Step(
            op,
            axis=draw(st.integers(0, rank - 2)),
            inverse=draw(st.booleans()),
            unsqueeze=unsqueeze,
        )
    return Step(op)


@dataclass(frozen=True)
class ChainConfig:
    head: ConvConfig | DFTConfig
    pre: tuple[Step, ...]  # elementwise steps on the input, before the head
    post: tuple[Step, ...]
    seed: int
    shapes: tuple[tuple[int, ...], ...] = field(default=(), repr=False)  # after each post step

    @property
    def reference(self) -> str:
        """The head's reference; ONNX's float64 evaluator when the steps hold a DFT."""
        return "fp64" if any(s.op == "Spectral" for s in self.post) else self.head.reference

    def rtol(self) -> float:
        """The head's tolerance, the DFT steps' and 1e-5 for the elementwise steps."""
        if isinstance(self.head, ConvConfig):
            tol = 2e-5
        else:
            tol = fft_rtol(self.head.length) * (2 if self.head.reference == "ort" else 1)
        for s, shape in zip(self.post, self.shapes, strict=True):
            if s.op == "Spectral":
                tol += fft_rtol(shape[s.axis])
        return tol + 1e-5

    def gain(self) -> float:
        """A bound on how much the steps after the head amplify an error (max-norm)."""
        g = 1.0
        for s, shape in zip(self.post, self.shapes, strict=True):
            if s.op == "Mul":
                g *= 2.0  # constants of magnitude 0.5..2
            elif s.op in ACTIVATIONS:
                g *= max(1.0, ACTIVATIONS[s.op])
            elif s.op == "Residual":
                g += 1.0
            elif s.op == "Spectral":
                g *= shape[s.axis]  # |X_k| <= sum |x_j|
        return g

    def build(self, upto_head: bool = False) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
        """The chain's model (or only the steps up to the head, output "h")."""
        head_model, feeds = self.head.build()
        gen = rng(self.seed)
        nodes: list[onnx.NodeProto] = []
        consts: dict[str, np.ndarray] = {}
        cur = "x"
        for i, s in enumerate(self.pre):
            cur = _emit(s, cur, f"pre{i}", nodes, consts, gen)
        head = onnx.NodeProto()
        head.CopyFrom(head_model.graph.node[0])
        head.input[0] = cur
        head.output[0] = "h"
        nodes.append(head)
        for init in head_model.graph.initializer:
            consts[init.name] = numpy_helper.to_array(init)
        cur = "h"
        if not upto_head:
            for i, s in enumerate(self.post):
                cur = _emit(s, cur, f"post{i}", nodes, consts, gen)
        nodes.append(helper.make_node("Identity", [cur], ["y"]))
        return graph_model(nodes, feeds, ["y"], consts, opset=20, name="chain"), feeds


def _emit(
    s: Step,
    x: str,
    name: str,
    nodes: list[onnx.NodeProto],
    consts: dict[str, np.ndarray],
    gen: np.random.Generator,
) -> str:
    """Append the nodes of step ``s`` applied to ``x``; returns the output's name."""
    attrs: dict[str, Any] = {}
    inputs = [x]
    if s.op == "Add":
        consts[f"{name}_c"] = randn(gen, *s.const_shape)
        inputs.append(f"{name}_c")
    elif s.op == "Mul":
        mag = gen.uniform(0.5, 2.0, s.const_shape) * gen.choice([-1.0, 1.0], s.const_shape)
        consts[f"{name}_c"] = mag.astype(np.float32)
        inputs.append(f"{name}_c")
    elif s.op == "Residual":
        nodes.append(helper.make_node("Add", [x, "h"], [name]))
        return name
    elif s.op == "Reshape":
        consts[f"{name}_s"] = np.array(s.target, np.int64)
        inputs.append(f"{name}_s")
    elif s.op == "Transpose":
        attrs["perm"] = list(s.perm)
    elif s.op == "Gelu":
        attrs["approximate"] = s.approximate
    elif s.op == "Spectral":
        if s.unsqueeze:
            consts[f"{name}_u"] = np.array([-1], np.int64)
            nodes.append(helper.make_node("Unsqueeze", [x, f"{name}_u"], [f"{name}_r"]))
            inputs = [f"{name}_r"]
        consts[f"{name}_a"] = np.array(s.axis, np.int64)
        inputs += ["", f"{name}_a"]
        attrs["inverse"] = int(s.inverse)
    op = "DFT" if s.op == "Spectral" else s.op
    nodes.append(helper.make_node(op, inputs, [name], **attrs))
    return name


@st.composite
def chain_configs(draw: st.DrawFn, head_kind: str) -> ChainConfig:
    head: ConvConfig | DFTConfig
    if head_kind == "conv":
        head = draw(conv_configs())
    else:
        head = draw(dft_configs(opsets=(20,), allow_large=False))
    head_shape = head.output_shape()
    pre = tuple(Step(op) for op in draw(st.lists(st.sampled_from(list(ACTIVATIONS)), max_size=2)))
    post: list[Step] = []
    shapes: list[tuple[int, ...]] = []
    shape = head_shape
    for _ in range(draw(st.integers(1, 5))):
        s = draw(step(shape, head_shape))
        post.append(s)
        shapes.append(shape)
        shape = s.out_shape(shape)
    return ChainConfig(head, pre, tuple(post), draw(st.integers(0, 2**32 - 1)), tuple(shapes))
