"""Hypothesis strategies for valid Conv / ConvTranspose configurations (small tensors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from hypothesis import strategies as st

from fftc.testing.onnx_builder import op_model
from tests.properties._common import randn, rng

AUTO_PADS = ("NOTSET", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


@dataclass(frozen=True)
class Channels:
    cin: int
    cout: int
    groups: int


@st.composite
def channels(draw: st.DrawFn) -> Channels:
    """Dense (groups 1), depthwise (groups == cin, channel multiplier 1-3) or grouped."""
    kind = draw(st.sampled_from(["dense", "depthwise", "grouped"]))
    if kind == "dense":
        return Channels(draw(st.integers(1, 6)), draw(st.integers(1, 6)), 1)
    if kind == "depthwise":
        g = draw(st.integers(1, 8))
        return Channels(g, g * draw(st.integers(1, 3)), g)
    g = draw(st.integers(2, 4))
    return Channels(g * draw(st.integers(2, 3)), g * draw(st.integers(1, 3)), g)


def effective(k: int, d: int) -> int:
    """Extent of a dilated kernel."""
    return (k - 1) * d + 1


@dataclass(frozen=True)
class ConvConfig:
    batch: int
    ch: Channels
    sizes: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: tuple[int, ...]  # begins + ends (NOTSET only)
    auto_pad: str
    bias: bool
    explicit_defaults: bool  # write strides/dilations/kernel_shape even when implied
    seed: int

    def output_shape(self) -> tuple[int, ...]:
        spatial = []
        rank = len(self.sizes)
        for i, (n, k, s, d) in enumerate(
            zip(self.sizes, self.kernel, self.strides, self.dilations, strict=True)
        ):
            if self.auto_pad.startswith("SAME"):
                spatial.append(-(-n // s))
            else:
                pads = self.pads[i] + self.pads[rank + i] if self.auto_pad == "NOTSET" else 0
                spatial.append((n + pads - effective(k, d)) // s + 1)
        return (self.batch, self.ch.cout, *spatial)

    @property
    def reference(self) -> str:
        """onnxruntime refuses auto_pad SAME with dilations: ONNX's evaluator runs those."""
        dilated = any(d > 1 for d in self.dilations)
        return "fp64" if dilated and self.auto_pad.startswith("SAME") else "ort"

    def build(self) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
        g = rng(self.seed)
        rank = len(self.sizes)
        x = randn(g, self.batch, self.ch.cin, *self.sizes)
        fan_in = self.ch.cin // self.ch.groups * int(np.prod(self.kernel))
        w = randn(g, self.ch.cout, self.ch.cin // self.ch.groups, *self.kernel)
        consts = {"w": w / np.float32(np.sqrt(fan_in))}
        inputs = ["x", "w"]
        if self.bias:
            consts["b"] = randn(g, self.ch.cout)
            inputs.append("b")
        attrs: dict[str, Any] = {}
        if self.ch.groups != 1 or self.explicit_defaults:
            attrs["group"] = self.ch.groups
        if self.explicit_defaults:
            attrs["kernel_shape"] = list(self.kernel)
        if self.strides != (1,) * rank or self.explicit_defaults:
            attrs["strides"] = list(self.strides)
        if self.dilations != (1,) * rank or self.explicit_defaults:
            attrs["dilations"] = list(self.dilations)
        if self.auto_pad != "NOTSET":
            attrs["auto_pad"] = self.auto_pad
        elif any(self.pads) or self.explicit_defaults:
            attrs["pads"] = list(self.pads)
        return op_model("Conv", inputs, {"x": x}, consts, **attrs), {"x": x}


def _rank(draw: st.DrawFn, max_rank: int = 3) -> int:
    return draw(st.sampled_from([1, 1, 1, 2, 2, 2, 3][: 6 if max_rank < 3 else 7]))


@st.composite
def conv_configs(draw: st.DrawFn) -> ConvConfig:
    rank = _rank(draw)
    auto_pad = draw(st.sampled_from(AUTO_PADS))
    kernel, strides, dils, begins, ends, sizes = [], [], [], [], [], []
    for _ in range(rank):
        if rank == 1 and draw(st.integers(0, 5)) == 0:
            k = draw(st.integers(10, 31))  # long 1-D kernels (Hyena, causal convs)
        else:
            k = draw(st.integers(1, 9 if rank < 3 else 3))
        s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        keff = effective(k, d)
        pb = pe = 0
        if auto_pad == "NOTSET":
            pb, pe = draw(st.integers(0, min(keff, 5))), draw(st.integers(0, min(keff, 5)))
        # the smallest input that gives an output of >= 1 element
        smallest = keff if auto_pad == "VALID" else max(1, keff - pb - pe)
        if auto_pad.startswith("SAME"):
            smallest = 1
        extra = {1: 40, 2: 10, 3: 4}[rank]
        sizes.append(smallest + draw(st.integers(0, extra)))
        kernel.append(k)
        strides.append(s)
        dils.append(d)
        begins.append(pb)
        ends.append(pe)
    return ConvConfig(
        batch=draw(st.integers(1, 2)),
        ch=draw(channels()),
        sizes=tuple(sizes),
        kernel=tuple(kernel),
        strides=tuple(strides),
        dilations=tuple(dils),
        pads=tuple(begins + ends),
        auto_pad=auto_pad,
        bias=draw(st.booleans()),
        explicit_defaults=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


CT_MODES = ("pads", "pads", "output_shape", "SAME_UPPER", "SAME_LOWER", "VALID")


@dataclass(frozen=True)
class ConvTransposeConfig:
    batch: int
    ch: Channels
    sizes: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    output_padding: tuple[int, ...]
    pads: tuple[int, ...]  # begins + ends (mode "pads")
    output_shape: tuple[int, ...]  # mode "output_shape"
    mode: str  # one of CT_MODES
    output_shape_auto_pad: str  # auto_pad given along with output_shape
    bias: bool
    seed: int

    @property
    def contested(self) -> bool:
        """auto_pad SAME (no output_shape) with output_padding or a negative total pad.

        The spec says the output is ``input * stride``; ONNX's shape inference adds
        output_padding and clamps negative pads, onnxruntime clamps negative pads.
        fftc follows the spec and refuses (UnsupportedError) where ONNX's shape
        inference disagrees; ONNX's reference evaluator follows the spec.
        """
        if not self.mode.startswith("SAME"):
            return False
        geometry = zip(self.kernel, self.strides, self.dilations, self.output_padding, strict=True)
        return any(op > 0 or effective(k, d) + op < s for k, s, d, op in geometry)

    @property
    def reference(self) -> str:
        return "fp64" if self.contested else "ort"

    def build(self) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
        g = rng(self.seed)
        x = randn(g, self.batch, self.ch.cin, *self.sizes)
        fan_in = self.ch.cin // self.ch.groups * int(np.prod(self.kernel))
        w = randn(g, self.ch.cin, self.ch.cout // self.ch.groups, *self.kernel)
        consts = {"w": w / np.float32(np.sqrt(fan_in))}
        inputs = ["x", "w"]
        if self.bias:
            consts["b"] = randn(g, self.ch.cout)
            inputs.append("b")
        attrs: dict[str, Any] = {
            "group": self.ch.groups,
            "strides": list(self.strides),
            "dilations": list(self.dilations),
        }
        if any(self.output_padding):
            attrs["output_padding"] = list(self.output_padding)
        if self.mode == "pads":
            attrs["pads"] = list(self.pads)
        elif self.mode == "output_shape":
            attrs["output_shape"] = list(self.output_shape)
            if self.output_shape_auto_pad != "NOTSET":
                attrs["auto_pad"] = self.output_shape_auto_pad
        else:
            attrs["auto_pad"] = self.mode
        return op_model("ConvTranspose", inputs, {"x": x}, consts, **attrs), {"x": x}


@st.composite
def conv_transpose_configs(draw: st.DrawFn) -> ConvTransposeConfig:
    rank = _rank(draw)
    mode = draw(st.sampled_from(CT_MODES))
    kernel, strides, dils, out_pad, begins, ends, sizes, out_shape = ([] for _ in range(8))
    for _ in range(rank):
        k = draw(st.integers(1, {1: 9, 2: 5, 3: 3}[rank]))
        s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        op = draw(st.integers(0, s - 1))  # output_padding < stride
        size = draw(st.integers(1, {1: 16, 2: 7, 3: 4}[rank]))
        keff = effective(k, d)
        natural = s * (size - 1) + op + keff  # output extent without padding
        pb = pe = 0
        if mode == "pads":
            pb = draw(st.integers(0, min(keff - 1, natural - 1)))
            pe = draw(st.integers(0, min(keff - 1, natural - 1 - pb)))
        total = draw(st.integers(0, min(keff - 1, natural - 1)))  # output_shape mode only
        kernel.append(k)
        strides.append(s)
        dils.append(d)
        out_pad.append(op)
        sizes.append(size)
        begins.append(pb)
        ends.append(pe)
        out_shape.append(natural - total)
    return ConvTransposeConfig(
        batch=draw(st.integers(1, 2)),
        ch=draw(channels()),
        sizes=tuple(sizes),
        kernel=tuple(kernel),
        strides=tuple(strides),
        dilations=tuple(dils),
        output_padding=tuple(out_pad),
        pads=tuple(begins + ends),
        output_shape=tuple(out_shape),
        mode=mode,
        output_shape_auto_pad=draw(st.sampled_from(["NOTSET", "SAME_UPPER", "SAME_LOWER"])),
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
