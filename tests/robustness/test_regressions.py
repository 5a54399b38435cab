"""fftc bugs found by the robustness tests and the fuzzer (``BUG-F<n>``), each with its
minimal model built in code. All are fixed; each test keeps its case from coming back."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fftc
from fftc.errors import FftcError
from fftc.testing.onnx_builder import graph_model
from tests.robustness.helpers import FAST_SECONDS, X, assert_clean_message, compile_sandboxed

node = helper.make_node


def _raw(nodes: list[onnx.NodeProto], outputs: list[str], **consts) -> onnx.ModelProto:
    """x: float32[2, 3] -> nodes (added without shape inference) -> outputs."""
    model = graph_model([], {"x": X}, [], consts or None)
    model.graph.node.extend(nodes)
    model.graph.output.extend(onnx.ValueInfoProto(name=o) for o in outputs)
    return model


def _refused(model: onnx.ModelProto, *needles: str) -> None:
    with pytest.raises(FftcError) as info:
        fftc.compile(model)
    assert_clean_message(str(info.value), *needles)


def _refused_or_runs(model: onnx.ModelProto, *needles: str) -> None:
    """Either a clean FftcError naming ``needles``, or a module that runs."""
    try:
        module = fftc.compile(model)
    except FftcError as err:
        assert_clean_message(str(err), *needles)
        return
    module.run({"x": X})


def test_bug_f1_empty_initializer():
    w = np.zeros((3, 0), np.float32)
    _refused_or_runs(_raw([node("MatMul", ["x", "w"], ["y"], name="mm")], ["y"], w=w), "'w'")


WRONG_TYPED = {
    "Transpose.perm=float": node("Transpose", ["x"], ["y"], name="n", perm=1.5),
    "Softmax.axis=string": node("Softmax", ["x"], ["y"], name="n", axis="fuzz"),
    "Gather.axis=tensor": node(
        "Gather", ["x", "i"], ["y"], name="n", axis=numpy_helper.from_array(np.zeros(2, np.float32))
    ),
    "LayerNormalization.epsilon=tensor": node(
        "LayerNormalization",
        ["x", "g"],
        ["y"],
        name="n",
        epsilon=numpy_helper.from_array(np.zeros(2)),
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPED))
def test_bug_f2_wrong_attribute_type(case):
    consts = {"i": np.array([0], np.int64), "g": np.ones(3, np.float32)}
    _refused(_raw([WRONG_TYPED[case]], ["y"], **consts), "'n'", case.split(".")[1].split("=")[0])


MISSING = {
    "Concat.axis": node("Concat", ["x", "x"], ["y"], name="n"),
    "Cast.to": node("Cast", ["x"], ["y"], name="n"),
    "DepthToSpace.blocksize": node("DepthToSpace", ["x4"], ["y"], name="n"),
}


@pytest.mark.parametrize("case", sorted(MISSING))
def test_bug_f3_missing_required_attribute(case):
    reshape = node("Reshape", ["x", "s"], ["x4"], name="r")
    model = _raw([reshape, MISSING[case]], ["y"], s=np.array([1, 6, 1, 1], np.int64))
    _refused(model, "'n'", case.split(".")[1])


@pytest.mark.parametrize("attr", ["auto_pad", "equation"])
def test_bug_f4_non_utf8_string_attribute(attr):
    if attr == "auto_pad":
        nodes = [
            node("Reshape", ["x", "s"], ["x3"], name="r"),
            node("Conv", ["x3", "w"], ["y"], name="n", auto_pad=b"\xff\xfe"),
        ]
        model = _raw(nodes, ["y"], s=np.array([1, 2, 3], np.int64), w=np.ones((1, 2, 1), "f4"))
    else:
        model = _raw([node("Einsum", ["x"], ["y"], name="n", equation=b"\xff\xfe")], ["y"])
    _refused(model, "'n'", attr)


def test_bug_f5_duplicate_graph_output():
    model = _raw([node("Relu", ["x"], ["y"], name="relu")], ["y", "y"])
    _refused_or_runs(model, "'y'")


def test_bug_f6_slice_bounds_of_different_lengths():
    starts, ends = np.array([0], np.int64), np.array([2, 3], np.int64)
    model = _raw([node("Slice", ["x", "b", "e"], ["y"], name="n")], ["y"], b=starts, e=ends)
    _refused(model, "'n'")


def test_bug_f7_constant_of_shape_data_propagation_allocates(tmp_path):
    one = numpy_helper.from_array(np.ones(1, np.float32))
    nodes = [
        node("ConstantOfShape", ["s"], ["c"], name="huge", value=one),
        node("Add", ["c", "x1"], ["y"], name="add"),
    ]
    model = graph_model(
        nodes, {"x1": np.zeros(1, np.float32)}, ["y"], {"s": np.array([10**15], np.int64)}
    )
    out = compile_sandboxed(model, tmp_path)
    assert out.status == "fftc", out
    assert out.seconds < FAST_SECONDS, out
    assert_clean_message(out.message, "'huge'")


def test_bug_f8_negative_initializer_dim():
    model = _raw([node("Add", ["x", "w"], ["y"], name="add")], ["y"], w=np.ones(3, np.float32))
    model.graph.initializer[0].dims[0] = -1
    _refused(model, "'w'")


@pytest.mark.parametrize("where", ["value_info", "graph-output"])
def test_bug_f9_contradicting_declared_dtype(where):
    nodes = [node("Relu", ["x"], ["h"], name="first"), node("Relu", ["h"], ["y"], name="second")]
    model = graph_model(nodes, {"x": X}, ["y"])
    if where == "value_info":
        model.graph.value_info.append(helper.make_tensor_value_info("h", TensorProto.INT64, [2, 3]))
    else:
        model.graph.output[0].type.tensor_type.elem_type = TensorProto.INT64
    _refused(model, "'h'" if where == "value_info" else "'y'")


def test_bug_f10_value_defined_twice():
    nodes = [node("Relu", ["x"], ["y"], name="a"), node("Neg", ["x"], ["y"], name="b")]
    _refused(_raw(nodes, ["y"]), "'y'")


def test_bug_f11_einsum_equation_hangs_shape_inference(tmp_path):
    model = _raw([node("Einsum", ["x"], ["y"], name="n", equation="ij!")], ["y"])
    out = compile_sandboxed(model, tmp_path, timeout=FAST_SECONDS)
    assert out.status == "fftc", out
    assert_clean_message(out.message, "'n'")


def test_bug_f12_reshape_zero_past_the_input_rank():
    model = _raw([node("Reshape", ["x", "s"], ["y"], name="n")], ["y"], s=np.array([1, 1, 0]))
    _refused(model, "'n'")


@pytest.mark.parametrize("elem_type", [999, 40])
def test_bug_f13_unknown_element_type(elem_type):
    model = _raw([node("Relu", ["x"], ["y"], name="relu")], ["y"])
    model.graph.input[0].type.tensor_type.elem_type = elem_type
    _refused(model, "'x'")


@pytest.mark.parametrize("which", ["initializer", "node", "output"])
def test_bug_f14_non_utf8_names(tmp_path, which):
    names = {"initializer": ("wQ", "add"), "node": ("w", "addQ"), "output": ("w", "add")}
    w_name, node_name = names[which]
    y_name = "yQ" if which == "output" else "y"
    nodes = [node("Add", ["x", w_name], [y_name], name=node_name)]
    model = _raw(nodes, [y_name], **{w_name: np.ones(3, np.float32)})
    path = tmp_path / "names.onnx"
    path.write_bytes(model.SerializeToString().replace(b"Q", b"\xff"))
    try:
        fftc.compile(path).run({"x": X})
    except FftcError as err:
        assert_clean_message(str(err), "names.onnx")


def test_bug_f15_negative_input_dim_into_slice_aborts(tmp_path):
    bounds = {"b": np.array([0]), "e": np.array([2]), "a": np.array([1])}
    model = _raw([node("Slice", ["x", "b", "e", "a"], ["y"], name="n")], ["y"], **bounds)
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = -1
    out = compile_sandboxed(model, tmp_path)
    assert out.status == "fftc", out
    assert_clean_message(out.message, "'x'")


@pytest.mark.parametrize(
    ("axes", "needle"), [(np.arange(1025), "rank 1027"), (np.array([0, 0]), "repeat")]
)
def test_bug_f16_unsqueeze_axes_from_a_long_tensor(axes, needle):
    """Fuzz seed 11 case 334: Unsqueeze's inputs swapped, so 1025 values became axes."""
    nodes = [node("Unsqueeze", ["x", "axes"], ["y"], name="unsq")]
    _refused(_raw(nodes, ["y"], axes=axes.astype(np.int64)), "'unsq'", needle)
