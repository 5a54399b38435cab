"""ONNX test models shared by the frontend tests (interpreted) and the backend
tests (compiled): each case is a model plus its inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper

from fftc.testing import run_onnxruntime
from fftc.testing.onnx_builder import graph_model, op_model

RNG = np.random.default_rng(1234)


def randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def reset_rng() -> None:
    """Every test module gets the same data, whatever ran before it."""
    global RNG
    RNG = np.random.default_rng(1234)


@dataclass(frozen=True)
class Case:
    id: str
    model: onnx.ModelProto
    feeds: dict[str, np.ndarray]
    #: "ort" (onnxruntime) or "onnx" (ONNX's reference evaluator, NumPy float64 FFTs):
    #: ORT's fp32 Bluestein FFT is off by up to ~7e-4 relative for long non-power-of-2 sizes
    reference: str = "ort"

    def expected(self) -> dict[str, np.ndarray]:
        if self.reference == "onnx":
            from onnx.reference import ReferenceEvaluator

            names = [o.name for o in self.model.graph.output]
            return dict(
                zip(names, ReferenceEvaluator(self.model).run(None, self.feeds), strict=True)
            )
        return run_onnxruntime(self.model, self.feeds)


def conv_case(
    rank: int,
    cin: int,
    cout: int,
    groups: int,
    kernel: int,
    size: int,
    stride: int = 1,
    dilation: int = 1,
    pads: tuple[int, ...] | None = None,
    auto_pad: str = "NOTSET",
    bias: bool = True,
) -> Case:
    x = randn(1, cin, *([size] * rank))
    w = randn(cout, cin // groups, *([kernel] * rank)) / np.float32(np.sqrt(kernel**rank * cin))
    consts = {"w": w}
    inputs = ["x", "w"]
    if bias:
        consts["b"] = randn(cout)
        inputs.append("b")
    attrs: dict[str, Any] = {
        "group": groups,
        "strides": [stride] * rank,
        "dilations": [dilation] * rank,
    }
    if auto_pad != "NOTSET":
        attrs["auto_pad"] = auto_pad
    else:
        attrs["pads"] = list(pads if pads is not None else [kernel // 2] * (2 * rank))
    cid = f"conv{rank}d-c{cin}-m{cout}-g{groups}-k{kernel}-s{stride}-d{dilation}-{auto_pad}-{pads}"
    return Case(cid, op_model("Conv", inputs, {"x": x}, consts, **attrs), {"x": x})


def conv_cases() -> list[Case]:
    return [
        conv_case(1, 4, 6, 1, 3, 20),
        conv_case(1, 8, 8, 8, 31, 64, pads=(30, 0)),  # causal depthwise, long kernel
        conv_case(1, 6, 12, 6, 5, 33, stride=2, dilation=2, pads=(3, 1)),  # multiplier 2
        conv_case(1, 8, 4, 2, 7, 40, stride=3, auto_pad="SAME_UPPER"),
        conv_case(1, 4, 4, 1, 1, 16, bias=False, pads=(0, 0)),
        conv_case(2, 3, 8, 1, 3, 12),
        conv_case(2, 8, 8, 8, 7, 14),  # ConvNeXt-style depthwise 7x7
        conv_case(2, 8, 8, 8, 31, 20),  # RepLKNet-style depthwise 31x31
        conv_case(2, 6, 6, 3, 3, 11, stride=2, dilation=3, pads=(1, 2, 3, 0)),
        conv_case(2, 4, 8, 2, 4, 10, stride=2, auto_pad="SAME_LOWER", bias=False),
        conv_case(2, 4, 4, 1, 5, 9, auto_pad="VALID"),
        conv_case(3, 2, 4, 1, 3, 6, pads=(1, 0, 1, 1, 2, 0)),
    ]


def conv_transpose_cases() -> list[Case]:
    out = []
    geometries: list[
        tuple[int, int, int, int, int, int, int, tuple[int, ...], tuple[int, ...], dict[str, Any]]
    ] = [
        (1, 4, 6, 1, 3, 2, 1, (1, 1), (1,), {}),
        (2, 4, 4, 2, 3, 2, 2, (1, 0, 2, 1), (0, 1), {}),
        (2, 3, 2, 1, 4, 2, 1, (0, 0, 0, 0), (0, 0), {"output_shape": [15, 16]}),
        (2, 4, 4, 4, 3, 3, 1, (1, 1, 1, 1), (2, 2), {}),
        (1, 2, 2, 1, 5, 2, 1, (0, 0), (0,), {"auto_pad": "SAME_UPPER"}),
    ]
    for rank, cin, cout, groups, k, stride, dil, pads, out_pad, extra in geometries:
        x = randn(1, cin, *([7] * rank))
        w = randn(cin, cout // groups, *([k] * rank))
        attrs: dict[str, Any] = {
            "group": groups,
            "strides": [stride] * rank,
            "dilations": [dil] * rank,
            **extra,
        }
        if "output_shape" not in extra and "auto_pad" not in extra:
            attrs["pads"] = list(pads)
            attrs["output_padding"] = list(out_pad)
        model = op_model(
            "ConvTranspose", ["x", "w", "b"], {"x": x}, {"w": w, "b": randn(cout)}, **attrs
        )
        out.append(Case(f"convT{rank}d-g{groups}-k{k}-s{stride}-d{dil}-{extra}", model, {"x": x}))
    return out


def pool_cases() -> list[Case]:
    out = []
    for op, rank, k, s, pads, ceil, cip, dil in [
        ("MaxPool", 2, 3, 2, (1, 1, 1, 1), 0, 0, 1),
        ("MaxPool", 2, 3, 2, (0, 0, 0, 0), 1, 0, 1),
        ("MaxPool", 1, 2, 1, (0, 1), 0, 0, 2),
        ("AveragePool", 2, 3, 2, (1, 1, 1, 1), 0, 0, 1),
        ("AveragePool", 2, 3, 2, (1, 1, 1, 1), 0, 1, 1),
        ("AveragePool", 2, 2, 2, (0, 0, 0, 0), 1, 0, 1),
        ("AveragePool", 3, 2, 1, (0, 0, 0, 1, 1, 1), 0, 1, 1),
    ]:
        x = randn(1, 3, *([9] * rank))
        attrs: dict[str, Any] = {
            "kernel_shape": [k] * rank,
            "strides": [s] * rank,
            "pads": list(pads),
            "ceil_mode": ceil,
        }
        if op == "AveragePool":
            attrs["count_include_pad"] = cip
        if dil != 1:
            attrs["dilations"] = [dil] * rank
        cid = f"{op}{rank}d-k{k}-s{s}-p{pads}-ceil{ceil}-cip{cip}-d{dil}"
        out.append(Case(cid, op_model(op, ["x"], {"x": x}, **attrs), {"x": x}))
    x = randn(1, 4, 5, 6)
    out.append(Case("GlobalAveragePool", op_model("GlobalAveragePool", ["x"], {"x": x}), {"x": x}))
    return out


def dft_case(
    opset: int,
    shape: tuple[int, ...],
    axis: int,
    inverse: int,
    onesided: int,
    length: int | None = None,
    reference: str = "ort",
) -> Case:
    x = randn(*shape)
    inputs = ["x"]
    consts: dict[str, np.ndarray] = {}
    attrs: dict[str, Any] = {"inverse": inverse, "onesided": onesided}
    if length is not None:
        inputs.append("n")
        consts["n"] = np.array(length, dtype=np.int64)
    if opset >= 20:
        if length is None:
            inputs.append("")
        inputs.append("axis")
        consts["axis"] = np.array(axis, dtype=np.int64)
    else:
        attrs["axis"] = axis
    model = op_model("DFT", inputs, {"x": x}, consts, opset=opset, **attrs)
    cid = f"dft-op{opset}-{shape}-ax{axis}-inv{inverse}-one{onesided}-n{length}"
    return Case(cid, model, {"x": x}, reference)


def dft_cases() -> list[Case]:
    cases = []
    for opset in (17, 20):
        cases += [
            dft_case(opset, (3, 16, 1), 1, 0, 1),
            dft_case(opset, (3, 17, 2), 1, 0, 0),
            dft_case(opset, (2, 12, 2), 1, 1, 0),
            dft_case(opset, (2, 9, 2), 1, 1, 1),  # irfft, default length 16
            dft_case(opset, (2, 9, 2), 1, 1, 1, length=17),
        ]
    cases += [
        dft_case(20, (4, 5, 100, 1), -2, 0, 1),
        dft_case(20, (7, 3, 5, 2), 0, 0, 0),
        dft_case(20, (2, 30, 1), 1, 0, 0, length=45),  # zero padding
        dft_case(20, (2, 30, 1), 1, 0, 1, length=13),  # truncation
        dft_case(20, (2, 97, 2), 1, 1, 0, reference="onnx"),  # prime (ORT's Bluestein: ~2e-5)
        dft_case(20, (1, 8191, 1), 1, 0, 1, reference="onnx"),  # large prime
        dft_case(20, (1, 65536, 2), 1, 0, 0, reference="onnx"),
        dft_case(20, (1, 65536, 1), 1, 0, 1, reference="onnx"),
        dft_case(20, (1, 1000, 2), 1, 0, 0, reference="onnx"),
    ]
    return cases


def causal_conv_cases() -> list[Case]:
    """CausalConvWithState (opset 27: onnxruntime runs it from 1.32; before, ONNX's reference)."""
    out = []
    for k, act, with_state in [(4, "silu", True), (3, "none", False), (2, "none", True)]:
        x, w, b = randn(2, 6, 10), randn(6, 1, k), randn(6)
        feeds = {"x": x}
        inputs = ["x", "w", "b", ""]
        if with_state:
            feeds["past"] = randn(2, 6, k - 1)
            inputs[3] = "past"
        model = op_model("CausalConvWithState", inputs, feeds, {"w": w, "b": b}, opset=27,
                         num_outputs=2, activation=act)  # fmt: skip
        out.append(Case(f"causal_conv-k{k}-{act}-state{with_state}", model, feeds, "onnx"))
    return out


def stft_cases() -> list[Case]:
    out = []
    for length, frame, step, window, onesided in [
        (64, 16, 8, True, 1),
        (50, 12, 5, False, 1),
        (40, 10, 3, True, 0),
    ]:
        x = randn(2, length, 1)
        consts = {"step": np.array(step, np.int64), "len": np.array(frame, np.int64)}
        inputs = ["x", "step", "", "len"]
        if window:
            consts["win"] = np.hanning(frame).astype(np.float32)
            inputs[2] = "win"
        model = op_model("STFT", inputs, {"x": x}, consts, opset=17, onesided=onesided)
        out.append(Case(f"stft-{length}-{frame}-{step}-w{window}-one{onesided}", model, {"x": x}))
    return out


UNARY = [
    "Abs",
    "Ceil",
    "Cos",
    "Erf",
    "Exp",
    "Floor",
    "Neg",
    "Relu",
    "Round",
    "Sigmoid",
    "Sign",
    "Sin",
    "Tanh",
    "Atan",
    "Sinh",
    "Asinh",
    "Softsign",
    "Softplus",
    "Mish",
    "HardSwish",
    "Gelu",
]
POSITIVE_UNARY = ["Log", "Sqrt", "Reciprocal", "Acosh"]
BOUNDED_UNARY = ["Acos", "Asin", "Atanh", "Tan", "Cosh"]
BINARY = [
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Max",
    "Min",
    "Pow",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
]


def elementwise_model() -> Case:
    """Every unary and binary op in one model (one output each), with broadcasting."""
    x = randn(3, 4, 5)
    y = randn(4, 1)
    pos = np.abs(randn(3, 4, 5)) + 1.1
    small = np.tanh(randn(3, 4, 5)) * 0.9
    nodes, outs = [], []
    for op in UNARY:
        nodes.append(helper.make_node(op, ["x"], [f"u_{op}"]))
        outs.append(f"u_{op}")
    for op in POSITIVE_UNARY:
        nodes.append(helper.make_node(op, ["pos"], [f"p_{op}"]))
        outs.append(f"p_{op}")
    for op in BOUNDED_UNARY:
        nodes.append(helper.make_node(op, ["small"], [f"s_{op}"]))
        outs.append(f"s_{op}")
    for op in BINARY:
        a, b = ("pos", "y") if op == "Pow" else ("x", "y")
        nodes.append(helper.make_node(op, [a, b], [f"b_{op}"]))
        outs.append(f"b_{op}")
    activations: list[tuple[str, dict[str, Any]]] = [
        ("LeakyRelu", {"alpha": 0.1}),
        ("Elu", {"alpha": 0.7}),
        ("Selu", {}),
        ("Celu", {"alpha": 1.3}),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
        ("ThresholdedRelu", {"alpha": 0.2}),
        ("Shrink", {"lambd": 0.4, "bias": 0.1}),
    ]
    for op, attrs in activations:
        nodes.append(helper.make_node(op, ["x"], [f"a_{op}"], **attrs))
        outs.append(f"a_{op}")
    nodes += [
        helper.make_node("Clip", ["x", "lo", "hi"], ["clip"]),
        helper.make_node("Greater", ["x", "y"], ["gt"]),
        helper.make_node("Where", ["gt", "x", "pos"], ["where"]),
        helper.make_node("Sum", ["x", "y", "pos"], ["sum3"]),
        helper.make_node("Mean", ["x", "pos"], ["mean2"]),
        helper.make_node("Mod", ["x", "y"], ["fmod"], fmod=1),
        helper.make_node("PRelu", ["x", "slope"], ["prelu"]),
        helper.make_node("Cast", ["x"], ["as_int"], to=onnx.TensorProto.INT32),
        helper.make_node("Not", ["gt"], ["not"]),
    ]
    outs += ["clip", "where", "sum3", "mean2", "fmod", "prelu", "as_int", "not"]
    consts = {
        "lo": np.array(-0.5, np.float32),
        "hi": np.array(0.7, np.float32),
        "slope": randn(4, 1),
    }
    feeds = {"x": x, "y": y, "pos": pos.astype(np.float32), "small": small.astype(np.float32)}
    return Case("elementwise", graph_model(nodes, feeds, outs, consts), feeds)


def movement_model() -> Case:
    x = randn(2, 3, 4, 5)
    i64 = np.int64
    c = {
        "shape": np.array([0, -1, 5], i64),
        "starts": np.array([3, -1], i64),
        "ends": np.array([0, -100], i64),
        "axes": np.array([2, 3], i64),
        "steps": np.array([-1, -2], i64),
        "pads": np.array([0, 1, 0, 2, 0, 0, 1, 1], i64),
        "idx": np.array([[0, -1], [2, 1]], i64),
        "eshape": np.array([3, 1, 1, 1, 1], i64),
        "reps": np.array([1, 2, 1, 1], i64),
        "sq": np.array([0], i64),
        "unsq": np.array([0, -1], i64),
        "split": np.array([1, 3], i64),
        "gidx": np.array(RNG.integers(0, 3, (2, 3, 4, 5)), i64),
    }
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["reshape"]),
        helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["slice"]),
        helper.make_node("Pad", ["x", "pads"], ["pad_reflect"], mode="reflect"),
        helper.make_node("Pad", ["x", "pads"], ["pad_edge"], mode="edge"),
        helper.make_node("Gather", ["x", "idx"], ["gather"], axis=2),
        helper.make_node("Expand", ["x", "eshape"], ["expand"]),
        helper.make_node("Tile", ["x", "reps"], ["tile"]),
        helper.make_node("Transpose", ["x"], ["transpose"], perm=[3, 1, 0, 2]),
        helper.make_node("Flatten", ["x"], ["flatten"], axis=2),
        helper.make_node("Unsqueeze", ["x", "unsq"], ["unsqueeze"]),
        helper.make_node("Split", ["x", "split"], ["split_a", "split_b"], axis=2),
        helper.make_node("Concat", ["split_b", "split_a"], ["concat"], axis=2),
        helper.make_node("GatherElements", ["x", "gidx"], ["gather_el"], axis=1),
        helper.make_node("DepthToSpace", ["dts_in"], ["d2s"], blocksize=2, mode="CRD"),
        helper.make_node("SpaceToDepth", ["x4"], ["s2d"], blocksize=2),
    ]
    outs = [
        "reshape",
        "slice",
        "pad_reflect",
        "pad_edge",
        "gather",
        "expand",
        "tile",
        "transpose",
        "flatten",
        "unsqueeze",
        "concat",
        "gather_el",
        "d2s",
        "s2d",
    ]
    feeds = {"x": x, "dts_in": randn(1, 8, 3, 2), "x4": randn(1, 2, 4, 6)}
    return Case("movement", graph_model(nodes, feeds, outs, c), feeds)


def reduce_model() -> Case:
    x = randn(2, 3, 4, 5)
    i64 = np.int64
    nodes, outs = [], []
    for op in [
        "ReduceSum",
        "ReduceMean",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
        "ReduceSumSquare",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSumExp",
    ]:
        for keep in (0, 1):
            nodes.append(helper.make_node(op, ["x", "axes"], [f"{op}_{keep}"], keepdims=keep))
            outs.append(f"{op}_{keep}")
    nodes += [
        helper.make_node("ReduceMean", ["x"], ["mean_all"], keepdims=0),
        helper.make_node("ArgMax", ["x"], ["argmax"], axis=2, keepdims=0),
        helper.make_node("ArgMin", ["x"], ["argmin_last"], axis=1, select_last_index=1),
        helper.make_node("CumSum", ["x", "cax"], ["cumsum"], exclusive=1, reverse=1),
        helper.make_node("Softmax", ["x"], ["softmax"], axis=1),
        helper.make_node("LogSoftmax", ["x"], ["log_softmax"]),
    ]
    outs += ["mean_all", "argmax", "argmin_last", "cumsum", "softmax", "log_softmax"]
    consts = {"axes": np.array([1, -1], i64), "cax": np.array(3, i64)}
    return Case("reduce", graph_model(nodes, {"x": x}, outs, consts, opset=18), {"x": x})


def norm_model(opset: int) -> Case:
    x = randn(2, 6, 5, 4)
    c = {
        "ln_s": randn(5, 4),
        "ln_b": randn(4),
        "g_s": randn(6),
        "g_b": randn(6),
        "bn_s": randn(6),
        "bn_b": randn(6),
        "bn_m": randn(6),
        "bn_v": np.abs(randn(6)) + 0.5,
        "gn18_s": randn(3),
        "gn18_b": randn(3),
    }
    nodes = [
        helper.make_node("LayerNormalization", ["x", "ln_s", "ln_b"], ["ln"], axis=2),
        helper.make_node("InstanceNormalization", ["x", "g_s", "g_b"], ["inorm"]),
        helper.make_node("BatchNormalization", ["x", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"]),
        helper.make_node("LpNormalization", ["x"], ["lp"], axis=1, p=2),
        helper.make_node("LRN", ["x"], ["lrn"], size=3, alpha=0.01, beta=0.6, bias=1.5),
    ]
    outs = ["ln", "inorm", "bn", "lp", "lrn"]
    if opset >= 21:
        nodes.append(
            helper.make_node("GroupNormalization", ["x", "g_s", "g_b"], ["gn"], num_groups=3)
        )
    else:
        nodes.append(
            helper.make_node("GroupNormalization", ["x", "gn18_s", "gn18_b"], ["gn"], num_groups=3)
        )
    outs.append("gn")
    return Case(f"norm-op{opset}", graph_model(nodes, {"x": x}, outs, c, opset=opset), {"x": x})


def linalg_model() -> Case:
    a, b3 = randn(2, 4, 6), randn(2, 6, 3)
    c = {"w": randn(6, 5), "gb": randn(5, 4), "gc": randn(4), "ew": randn(3, 6, 2)}
    nodes = [
        helper.make_node("MatMul", ["a", "w"], ["mm"]),
        helper.make_node("MatMul", ["a", "b3"], ["bmm"]),
        helper.make_node("Gemm", ["g", "gb", "gc"], ["gemm"], alpha=0.5, beta=2.0, transA=1),
        helper.make_node("Einsum", ["a", "ew"], ["einsum"], equation="bij,kjl->bikl"),
        helper.make_node("Einsum", ["a"], ["trace"], equation="...ij->...j"),
    ]
    feeds = {"a": a, "b3": b3, "g": randn(5, 3)}
    outs = ["mm", "bmm", "gemm", "einsum", "trace"]
    return Case("linalg", graph_model(nodes, feeds, outs, c), feeds)


def all_cases() -> list[Case]:
    from tests.onnx_layout_cases import transpose_model  # it imports Case from here

    reset_rng()
    return [
        *conv_cases(),
        *conv_transpose_cases(),
        *causal_conv_cases(),
        *pool_cases(),
        *dft_cases(),
        *stft_cases(),
        elementwise_model(),
        movement_model(),
        transpose_model(),
        reduce_model(),
        norm_model(18),
        norm_model(21),
        linalg_model(),
    ]
