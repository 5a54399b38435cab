"""Bad models give an FftcError (CLI: ``fftc: error: ...``, exit 1 or 2) naming the
problem; never a raw exception, a traceback, a hang, or an allocation of the absurd
sizes they declare. Files and run-time inputs: ``test_bad_files.py``,
``test_bad_run_inputs.py``; fftc bugs found here: ``test_regressions.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fftc
from fftc.errors import FftcError, ModelError
from fftc.testing.onnx_builder import graph_model
from tests.conftest import EXAMPLES
from tests.robustness.helpers import (
    FAST_SECONDS,
    X,
    assert_clean_message,
    assert_cli_error,
    compile_sandboxed,
    fftc_cli,
    relu_model,
    save,
)

F32 = np.float32
I64 = np.int64
node = helper.make_node


def expect_error(model: onnx.ModelProto | Path, *needles: str, error=FftcError, **kw) -> str:
    with pytest.raises(error) as info:
        fftc.compile(model, **kw)
    assert_clean_message(str(info.value), *needles)
    return str(info.value)


# -- truncated or corrupt protobuf ---------------------------------------------------

CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda b: b"",
    "first-3-bytes": lambda b: b[:3],
    "half": lambda b: b[: len(b) // 2],
    "last-byte-cut": lambda b: b[:-1],
    # field 7 (the graph) declares 2**28 - 1 bytes; the file holds far fewer
    "length-prefix-blown-up": lambda b: (
        b"\x3a\xff\xff\xff\x7f" + onnx.load_from_string(b).graph.SerializeToString()
    ),
    "another-message": lambda b: numpy_helper.from_array(np.ones(5, F32)).SerializeToString(),
    "zip-archive": lambda b: b"PK\x03\x04" + b"\x00" * 60,
    "text": lambda b: b"ir_version: 8\ngraph { node { op_type: 'Relu' } }\n",
}


@pytest.fixture(scope="module")
def example_bytes() -> bytes:
    return (EXAMPLES / "onnx" / "hyena_block.onnx").read_bytes()


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupt_protobuf_is_a_model_error_naming_the_file(tmp_path, example_bytes, how):
    path = tmp_path / "broken.onnx"
    path.write_bytes(CORRUPTIONS[how](example_bytes))
    expect_error(path, "broken.onnx", error=ModelError)


def test_corrupt_protobuf_cli(tmp_path, example_bytes):
    (tmp_path / "broken.onnx").write_bytes(example_bytes[: len(example_bytes) // 3])
    r = fftc_cli("compile", "broken.onnx", "-o", "out.fftc", cwd=tmp_path)
    assert_cli_error(r, "broken.onnx", codes=(2,))
    r = fftc_cli("inspect", "broken.onnx", cwd=tmp_path)
    assert_cli_error(r, "broken.onnx", codes=(2,))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.onnx"]


# -- opsets and domains ----------------------------------------------------------------


@pytest.mark.parametrize("version", [onnx.defs.onnx_opset_version() + 1, 99, 0, -1])
def test_impossible_default_opset(version):
    model = relu_model()
    model.opset_import[0].version = version
    expect_error(model, f"opset {version}", error=ModelError)


def test_no_default_domain_opset_import():
    model = relu_model()
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("my.custom", 1))
    expect_error(model, "relu", "opset")


@pytest.mark.parametrize("imported", [True, False])
def test_unknown_domain_names_node_and_domain(imported):
    nodes = [
        node("Relu", ["x"], ["h"], name="fine"),
        node("Warp", ["h"], ["y"], name="warp", domain="my.custom"),
    ]
    model = graph_model(nodes, {"x": X}, ["y"])
    if imported:
        model.opset_import.append(helper.make_opsetid("my.custom", 3))
    text = expect_error(model, "warp", "my.custom")
    assert "'fine'" not in text


def test_opset_and_domain_cli(tmp_path):
    model = relu_model()
    model.opset_import[0].version = 99
    assert_cli_error(
        fftc_cli(
            "compile", str(save(model, tmp_path / "new.onnx")), "-o", str(tmp_path / "a.fftc")
        ),
        "new.onnx",
        "opset 99",
        codes=(2,),
    )
    model = relu_model()
    model.graph.node[0].domain = "my.custom"
    model.opset_import.append(helper.make_opsetid("my.custom", 1))
    r = fftc_cli("inspect", str(save(model, tmp_path / "dom.onnx")))
    assert_cli_error(r, "'relu'", "my.custom")


# -- graph structure: cycles, dangling inputs, missing initializers -----------------------


def _with_nodes(nodes: list[onnx.NodeProto], outputs: list[str], **consts) -> onnx.ModelProto:
    """A model whose nodes are added raw (graph_model would run shape inference on them)."""
    model = graph_model([], {"x": X}, [], consts or None)
    model.graph.node.extend(nodes)
    model.graph.output.extend(onnx.ValueInfoProto(name=o) for o in outputs)
    return model


def test_self_loop_is_a_cycle():
    model = _with_nodes([node("Add", ["x", "y"], ["y"], name="feedback")], ["y"])
    expect_error(model, "cycle", "'feedback'", error=ModelError)


def test_cycle_behind_valid_nodes_names_only_its_nodes():
    nodes = [
        node("Relu", ["x"], ["r"], name="entry"),
        node("Add", ["r", "c"], ["a"], name="c1"),
        node("Mul", ["a", "a"], ["b"], name="c2"),
        node("Neg", ["b"], ["c"], name="c3"),
    ]
    text = expect_error(_with_nodes(nodes, ["c"]), "cycle", "'c1'", "'c2'", "'c3'")
    assert "'entry'" not in text


@pytest.mark.parametrize(
    ("nodes", "outputs", "needles"),
    [
        ([node("Conv", ["x3", "w"], ["y"], name="conv")], ["y"], ["'conv'", "'w'"]),
        ([node("Relu", ["x"], ["y"], name="relu")], ["y", "never_made"], ["'never_made'"]),
        ([node("Concat", ["x", "x", "gone"], ["y"], name="cat", axis=0)], ["y"], ["'gone'"]),
    ],
    ids=["missing-initializer", "missing-graph-output", "third-input-undefined"],
)
def test_names_defined_nowhere(nodes, outputs, needles):
    model = _with_nodes(nodes, outputs)
    model.graph.input.append(helper.make_tensor_value_info("x3", TensorProto.FLOAT, [1, 2, 8]))
    expect_error(model, *needles)


def test_structure_cli(tmp_path):
    cyc = _with_nodes([node("Add", ["x", "y"], ["y"], name="feedback")], ["y"])
    assert_cli_error(fftc_cli("inspect", str(save(cyc, tmp_path / "cyc.onnx"))), "feedback")
    miss = _with_nodes([node("MatMul", ["x", "w_missing"], ["y"], name="mm")], ["y"])
    r = fftc_cli("compile", str(save(miss, tmp_path / "miss.onnx")), "-o", str(tmp_path / "o"))
    assert_cli_error(r, "'mm'", "w_missing")


# -- shape and dtype mismatches inside the graph -----------------------------------------

MISMATCHES: dict[str, tuple[list[onnx.NodeProto], dict[str, np.ndarray]]] = {
    "add-broadcast": ([node("Add", ["x", "w"], ["y"], name="bad")], {"w": np.zeros((4, 5), F32)}),
    "add-dtypes": ([node("Add", ["x", "w"], ["y"], name="bad")], {"w": np.zeros((2, 3), I64)}),
    "matmul-inner": ([node("MatMul", ["x", "w"], ["y"], name="bad")], {"w": np.zeros((4, 5), F32)}),
    "conv-channels": (
        [
            node("Reshape", ["x", "s"], ["x3"], name="r"),
            node("Conv", ["x3", "w"], ["y"], name="bad"),
        ],
        {"s": np.array([1, 2, 3], I64), "w": np.zeros((4, 5, 3), F32)},
    ),
    "concat-rank": (
        [node("Concat", ["x", "w"], ["y"], name="bad", axis=0)],
        {"w": np.zeros((2, 3, 1), F32)},
    ),
    "reshape-count": (
        [node("Reshape", ["x", "s"], ["y"], name="bad")],
        {"s": np.array([4, 5], I64)},
    ),
    "gather-index": (
        [node("Gather", ["x", "i"], ["y"], name="bad", axis=1)],
        {"i": np.array([3], I64)},
    ),
    "transpose-perm": ([node("Transpose", ["x"], ["y"], name="bad", perm=[0, 0])], {}),
    "slice-axis": (
        [node("Slice", ["x", "a", "a", "ax"], ["y"], name="bad")],
        {"a": np.array([0], I64), "ax": np.array([5], I64)},
    ),
}


@pytest.mark.parametrize("case", sorted(MISMATCHES))
def test_shape_and_dtype_mismatches_name_the_node(case):
    nodes, consts = MISMATCHES[case]
    model = _with_nodes(nodes, ["y"], **consts)
    expect_error(model, "'bad'", nodes[-1].op_type)


def _relu_relu_declaring_h(elem_type: int, shape: list[int]) -> onnx.ModelProto:
    nodes = [node("Relu", ["x"], ["h"], name="first"), node("Relu", ["h"], ["y"], name="second")]
    model = graph_model(nodes, {"x": X}, ["y"])
    model.graph.value_info.append(helper.make_tensor_value_info("h", elem_type, shape))
    return model


def test_value_info_contradicting_the_computed_dtype():
    expect_error(_relu_relu_declaring_h(TensorProto.INT64, [2, 3]), "'first'", "'h'", "INT64")


def test_value_info_contradicting_the_computed_shape_warns(caplog):
    """A wrong declared shape of an intermediate is a warning, as in onnxruntime (its
    lenient merge): the computed shape is used and the result is right."""
    module = fftc.compile(_relu_relu_declaring_h(TensorProto.FLOAT, [7, 7]))
    assert "'h' is declared with shape [7, 7] but computes [2, 3]" in caplog.text
    np.testing.assert_array_equal(module.run({"x": X})["y"], np.maximum(X, 0))


# -- zero, negative and absurdly large dims ----------------------------------------------


def test_empty_initializers_read_by_a_kernel_are_refused_by_name():
    """An empty weight (BUG-F1: TVM could not load the library holding it)."""
    mm = node("MatMul", ["x", "w"], ["y"], name="mm")
    expect_error(_with_nodes([mm], ["y"], w=np.zeros((3, 0), F32)), "'mm'", "'w'", "[3, 0]")


def test_empty_shape_like_initializers_are_fine():
    """An empty initializer read as a shape (Reshape to a scalar) is not an empty tensor."""
    nodes = [
        node("Slice", ["x", "z", "o", "z"], ["x1"], name="first"),
        node("Slice", ["x1", "z", "o", "o"], ["x11"], name="one"),
        node("Reshape", ["x11", "empty"], ["y"], name="to_scalar"),
    ]
    consts = {"z": np.array([0], I64), "o": np.array([1], I64), "empty": np.zeros(0, I64)}
    module = fftc.compile(_with_nodes(nodes, ["y"], **consts))
    assert module.run({"x": X})["y"] == X[0, 0]


@pytest.mark.parametrize("dims", [[0, 3], [2, -3], [-1]])
def test_empty_or_negative_input_dims(dims):
    model = relu_model()
    shape = model.graph.input[0].type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        shape.dim.add().dim_value = d
    expect_error(model, "'x'", str(dims[0] if dims[0] < 1 else dims[1]))


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("Reshape", [-2, 3]),
        ("Reshape", [-1, -1]),
        ("Expand", [-2, 3]),
        ("Tile", [-2, 3]),
        ("ConstantOfShape", [-5, 3]),
    ],
)
def test_negative_shape_constants_name_the_node(op, value):
    inputs = ["s"] if op == "ConstantOfShape" else ["x", "s"]
    model = _with_nodes([node(op, inputs, ["y"], name="shaper")], ["y"], s=np.array(value, I64))
    expect_error(model, "'shaper'", op)


def test_pinned_shapes_must_be_positive(tmp_path):
    path = save(relu_model(), tmp_path / "m.onnx")
    for spec in ("x=0,3", "x=-2,3"):
        r = fftc_cli("compile", str(path), "-o", str(tmp_path / "m.fftc"), "--input-shape", spec)
        assert_cli_error(r, spec, codes=(2,))


def _huge_input() -> onnx.ModelProto:
    model = relu_model()
    for d in model.graph.input[0].type.tensor_type.shape.dim:
        d.dim_value = 2**40
    return model


def _huge_initializer() -> onnx.ModelProto:
    model = _with_nodes([node("Add", ["x", "w"], ["y"], name="adder")], ["y"], w=np.ones(3, F32))
    model.graph.initializer[0].dims[0] = 2**40  # 3 floats of data, 2**40 declared
    return model


def _const(op: str, shape: list[int], *extra: str, **consts) -> onnx.ModelProto:
    nodes = [node(op, [*extra, "s"] if op != "Range" else ["a", "b", "d"], ["y"], name="huge")]
    return _with_nodes(nodes, ["y"], s=np.array(shape, I64), **consts)


HUGE: dict[str, Callable[[], onnx.ModelProto]] = {
    "input-2**40x2**40": _huge_input,
    "initializer-dims": _huge_initializer,
    "ConstantOfShape-1e15": lambda: _const("ConstantOfShape", [10**5] * 3),
    "Expand-6e15": lambda: _const("Expand", [10**9, 10**6, 1, 1], "x"),
    "Tile-6e15": lambda: _const("Tile", [10**8, 10**7], "x"),
    "Reshape-2**80": lambda: _const("Reshape", [2**40, 2**40], "x"),
    "Pad-1e15": lambda: _const("Pad", [0, 10**15, 0, 0], "x"),
    "Range-1e15": lambda: _const(
        "Range", [], a=np.array(0, I64), b=np.array(10**15, I64), d=np.array(1, I64)
    ),
    "Conv-pads-2**40": lambda: _with_nodes(
        [
            node("Reshape", ["x", "s"], ["x3"], name="r"),
            node("Conv", ["x3", "w"], ["y"], name="huge", pads=[2**40, 2**40]),
        ],
        ["y"],
        s=np.array([1, 1, 6], I64),
        w=np.ones((1, 1, 3), F32),
    ),
}


@pytest.mark.parametrize("case", sorted(HUGE))
def test_absurd_sizes_fail_fast_without_allocating(tmp_path, case):
    """In a child limited to 2 GiB of address space: a clear error within seconds."""
    out = compile_sandboxed(HUGE[case](), tmp_path)
    assert out.status == "fftc", out
    assert out.seconds < FAST_SECONDS, out
    name = "'x'" if case.startswith("input") else "'w'" if case.startswith("init") else "'huge'"
    assert_clean_message(out.message, name)


def test_absurd_sizes_cli(tmp_path):
    r = fftc_cli(
        "compile",
        str(save(_huge_input(), tmp_path / "huge.onnx")),
        "-o",
        str(tmp_path / "huge.fftc"),
        sandbox=True,
        timeout=120,
    )
    assert_cli_error(r, "huge.onnx", "'x'")
    assert not (tmp_path / "huge.fftc").exists()


# -- NaN / Inf weights ---------------------------------------------------------------------


def _nonfinite(kind: str) -> onnx.ModelProto:
    add = node("Add", ["x", "w"], ["y"], name="add")
    if kind == "initializer-nan-f32":
        return _with_nodes([add], ["y"], w=np.array([0, np.nan, 1], F32))
    if kind == "initializer-inf-f64":
        model = _with_nodes([add], ["y"], w=np.array([0, 1, -np.inf]))
        model.graph.input[0].type.tensor_type.elem_type = TensorProto.DOUBLE
        return model
    if kind == "initializer-inf-f16":
        model = _with_nodes([add], ["y"], w=np.array([np.inf, 0, 0], np.float16))
        model.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
        return model
    attrs: dict[str, dict[str, Any]] = {
        "constant-tensor": {"value": numpy_helper.from_array(np.array([1, np.inf, 2], F32), "wt")},
        "constant-value_float": {"value_float": float("nan")},
        "constant-value_floats": {"value_floats": [1.0, float("-inf"), 2.0]},
    }
    return _with_nodes([node("Constant", [], ["w"], name="w", **attrs[kind]), add], ["y"])


NONFINITE = [
    "initializer-nan-f32",
    "initializer-inf-f64",
    "initializer-inf-f16",
    "constant-tensor",
    "constant-value_float",
    "constant-value_floats",
]


#: Constant nodes may hold +-inf (attention masks exported from PyTorch); NaN is refused
CONSTANT_INF = {"constant-tensor", "constant-value_floats"}


@pytest.mark.parametrize("kind", NONFINITE)
def test_nonfinite_weights_are_refused_by_name(kind):
    if kind in CONSTANT_INF:
        module = fftc.compile(_nonfinite(kind))
        x = np.zeros(module.inputs[0].shape, module.inputs[0].dtype)
        assert np.isinf(module.run({"x": x})["y"]).any()
        return
    expect_error(_nonfinite(kind), "'w'", "NaN")


@pytest.mark.parametrize("kind", NONFINITE)
def test_nonfinite_weights_compile_when_allowed(kind):
    model = _nonfinite(kind)
    module = fftc.compile(model, allow_nonfinite=True)
    x = np.zeros(module.inputs[0].shape, module.inputs[0].dtype)
    y = module.run({"x": x})["y"]
    assert not np.isfinite(y).all()


def test_every_nonfinite_tensor_is_listed_once():
    nodes = [node("Add", ["x", "a"], ["h"], name="n1"), node("Mul", ["h", "b"], ["y"], name="n2")]
    consts = {"a": np.full((2, 3), np.nan, F32), "b": np.array([1, 2, np.inf], F32)}
    text = expect_error(_with_nodes(nodes, ["y"], **consts), "'a'", "'b'")
    assert "'n2'" not in text  # the nodes themselves are fine


def test_integer_weights_are_not_checked():
    model = _with_nodes(
        [node("Add", ["x", "w"], ["y"], name="add")],
        ["y"],
        w=np.array([np.iinfo(I64).max, 0, -1], I64),
    )
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    fftc.compile(model)


def test_nonfinite_weights_cli(tmp_path):
    path = save(_nonfinite("initializer-nan-f32"), tmp_path / "nan.onnx")
    r = fftc_cli("compile", str(path), "-o", str(tmp_path / "nan.fftc"))
    assert_cli_error(r, "'w'", "--allow-nonfinite-weights")
    assert not (tmp_path / "nan.fftc").exists()
    r = fftc_cli(
        "compile", str(path), "-o", str(tmp_path / "nan.fftc"), "-q", "--allow-nonfinite-weights"
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "nan.fftc").is_file()
