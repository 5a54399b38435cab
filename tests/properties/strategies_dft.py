"""Hypothesis strategies for valid DFT (opset 17 and 20 forms) and STFT configurations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from hypothesis import strategies as st

from fftc.testing.onnx_builder import op_model
from tests.properties._common import is_power_of_two, randn, rng

PRIMES = [p for p in range(2, 300) if all(p % q for q in range(2, int(p**0.5) + 1))]
#: composites with large or repeated odd factors (mixed-radix plans, Bluestein fallbacks)
AWKWARD = [6, 9, 10, 12, 14, 15, 18, 21, 22, 25, 26, 27, 30, 33, 35, 45, 49, 50, 55, 63, 77, 81]
AWKWARD += [91, 99, 100, 105, 121, 125, 143, 169, 187, 210, 221, 225, 243, 247, 289, 299, 300]
LARGE = [1000, 1024, 2310, 4096, 4097, 8191]

#: (inverse, onesided, complex input) of each DFT mode
MODES: dict[str, tuple[bool, bool, bool]] = {
    "fft": (False, False, True),
    "fft-of-real": (False, False, False),
    "rfft": (False, True, False),
    "ifft": (True, False, True),
    "ifft-of-real": (True, False, False),
    "irfft": (True, True, True),
}


@st.composite
def fft_lengths(draw: st.DrawFn, allow_large: bool = True) -> int:
    """1..300 with primes and awkward composites overweighted; rarely 1000..8191."""
    kind = draw(st.sampled_from(["any", "any", "any", "prime", "prime", "awkward", "large"]))
    if kind == "prime":
        return draw(st.sampled_from(PRIMES))
    if kind == "awkward":
        return draw(st.sampled_from(AWKWARD))
    if kind == "large" and allow_large:
        return draw(st.sampled_from(LARGE))
    return draw(st.integers(1, 300))


@dataclass(frozen=True)
class DFTConfig:
    opset: int
    shape: tuple[int, ...]  # input shape, last dim 1 (real) or 2 (complex)
    axis: int  # non-negative, < rank - 1
    mode: str  # key of MODES
    dft_length: int | None
    axis_form: str  # "default" (attribute/input omitted), "positive", "negative"
    seed: int

    @property
    def inverse(self) -> bool:
        return MODES[self.mode][0]

    @property
    def onesided(self) -> bool:
        return MODES[self.mode][1]

    @property
    def length(self) -> int:
        """The transform length (ONNX's default when dft_length is omitted)."""
        if self.dft_length is not None:
            return self.dft_length
        n = self.shape[self.axis]
        return 2 * (n - 1) if self.mode == "irfft" else n

    def output_shape(self) -> tuple[int, ...]:
        shape = list(self.shape)
        half = self.onesided and not self.inverse
        shape[self.axis] = self.length // 2 + 1 if half else self.length
        shape[-1] = 1 if self.mode == "irfft" else 2
        return tuple(shape)

    @property
    def reference(self) -> str:
        """onnxruntime for power-of-two lengths (its other lengths are ~1e-5..7e-4
        off); ONNX's float64 evaluator otherwise and for irfft, where onnxruntime
        does not truncate/zero-pad the one-sided input to length // 2 + 1."""
        return "ort" if is_power_of_two(self.length) and self.mode != "irfft" else "fp64"

    def build(self) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
        x = randn(rng(self.seed), *self.shape)
        inputs = ["x"]
        consts: dict[str, np.ndarray] = {}
        attrs: dict[str, Any] = {}
        if self.inverse:
            attrs["inverse"] = 1
        if self.onesided:
            attrs["onesided"] = 1
        if self.dft_length is not None:
            inputs.append("n")
            consts["n"] = np.array(self.dft_length, dtype=np.int64)
        axis = self.axis - len(self.shape) if self.axis_form == "negative" else self.axis
        if self.opset >= 20 and self.axis_form != "default":
            inputs += [""] * (2 - len(inputs)) + ["axis"]
            consts["axis"] = np.array(axis, dtype=np.int64)
        elif self.opset < 20 and self.axis_form != "default":
            attrs["axis"] = axis
        model = op_model("DFT", inputs, {"x": x}, consts, opset=self.opset, **attrs)
        return model, {"x": x}


@st.composite
def dft_configs(
    draw: st.DrawFn, opsets: tuple[int, ...] = (17, 20), allow_large: bool = True
) -> DFTConfig:
    opset = draw(st.sampled_from(opsets))
    mode = draw(st.sampled_from(list(MODES)))
    n = draw(fft_lengths(allow_large))
    if mode == "irfft":  # n is the transform length; the input holds n // 2 + 1 bins
        extent = n // 2 + 1
        explicit = n % 2 == 1 or n == 1 or draw(st.booleans())  # odd: default gives n - 1
        length: int | None = n if explicit else None
        if explicit and draw(st.integers(0, 3)) == 0:  # input longer/shorter than n // 2 + 1
            extent = draw(st.integers(1, 2 * extent + 2))
    else:
        extent = n
        length = None
        if draw(st.integers(0, 2)) == 0:  # zero-pad or truncate to dft_length
            length = draw(st.integers(1, 2 * n + 3))
    rank = draw(st.integers(2, 4))  # including the trailing real/complex dim
    axis = draw(st.integers(0, rank - 2))
    big = max(extent, length or 0) > 300
    others = [draw(st.integers(1, 1 if big else 3)) for _ in range(rank - 2)]
    shape = (*others[:axis], extent, *others[axis:], 2 if MODES[mode][2] else 1)
    default_axis = 1 if opset < 20 else rank - 2
    forms = ["positive"] if opset < 20 else ["positive", "negative"]
    if axis == default_axis:
        forms.append("default")
    return DFTConfig(
        opset=opset,
        shape=shape,
        axis=axis,
        mode=mode,
        dft_length=length,
        axis_form=draw(st.sampled_from(forms)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@dataclass(frozen=True)
class STFTConfig:
    batch: int
    signal_length: int
    complex_input: bool
    frame_step: int
    frame_length: int
    window: str  # "none", "hann", "random"
    frame_length_input: bool  # give frame_length (optional when a window is given)
    onesided: int | None  # None: attribute omitted (default 1)
    seed: int

    def build(self) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
        g = rng(self.seed)
        x = randn(g, self.batch, self.signal_length, 2 if self.complex_input else 1)
        consts = {"step": np.array(self.frame_step, np.int64)}
        inputs = ["x", "step", "", ""]
        if self.window == "hann":
            consts["win"] = np.hanning(self.frame_length).astype(np.float32)
        elif self.window == "random":
            consts["win"] = g.uniform(0.0, 1.0, self.frame_length).astype(np.float32)
        if self.window != "none":
            inputs[2] = "win"
        if self.frame_length_input:
            inputs[3] = "len"
            consts["len"] = np.array(self.frame_length, np.int64)
        attrs = {} if self.onesided is None else {"onesided": self.onesided}
        model = op_model("STFT", inputs, {"x": x}, consts, opset=17, **attrs)
        return model, {"x": x}


@st.composite
def stft_configs(draw: st.DrawFn) -> STFTConfig:
    signal_length = draw(st.integers(1, 200))
    window = draw(st.sampled_from(["none", "hann", "random"]))
    frame_length = draw(st.integers(1, min(signal_length, 80)))
    # without window and frame_length input, the frame is the whole signal
    fl_input = (window == "none" and frame_length != signal_length) or draw(st.booleans())
    if window == "none" and not fl_input:
        frame_length = signal_length
    complex_input = draw(st.booleans())
    onesided = draw(st.sampled_from([0] if complex_input else [0, 1, None]))
    return STFTConfig(
        batch=draw(st.integers(1, 2)),
        signal_length=signal_length,
        complex_input=complex_input,
        frame_step=draw(st.integers(1, frame_length + 3)),
        frame_length=frame_length,
        window=window,
        frame_length_input=fl_input,
        onesided=onesided,
        seed=draw(st.integers(0, 2**32 - 1)),
    )
