"""Bad models give one clear error that names every offending node or input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from fftc.errors import ModelError, UnsupportedError, UsageError
from fftc.frontend.onnx import import_onnx
from fftc.testing.onnx_builder import graph_model

X = np.zeros((2, 3), np.float32)


def test_every_unsupported_node_is_listed():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="fine"),
        helper.make_node("NonMaxSuppression", ["a"], ["b"], name="nms"),
        helper.make_node("FusedGemm", ["a"], ["c"], name="custom", domain="com.microsoft"),
        helper.make_node("Unique", ["a"], ["d"], name="unique"),
    ]
    model = graph_model(nodes, {"x": X}, ["b", "c", "d"])
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(UnsupportedError) as info:
        import_onnx(model)
    text = str(info.value)
    assert "3 problems" in text
    assert "node 'nms' (NonMaxSuppression, ai.onnx opset 20): no converter" in text
    assert "node 'custom' (FusedGemm, com.microsoft opset 1): domain 'com.microsoft'" in text
    assert "node 'unique' (Unique, ai.onnx opset 20)" in text
    assert "fine" not in text


def test_control_flow_is_reported():
    body = helper.make_graph([], "body", [], [])
    node = helper.make_node("If", ["c"], ["y"], name="branch", then_branch=body, else_branch=body)
    model = graph_model([node], {"c": np.array(True)}, ["y"])
    with pytest.raises(UnsupportedError, match=r"'branch'.*control flow"):
        import_onnx(model)


def test_conversion_errors_are_collected_with_the_node():
    nodes = [
        helper.make_node("Reshape", ["x", "s"], ["a"], name="dyn_reshape"),
        helper.make_node("Relu", ["a"], ["b"], name="after"),
        helper.make_node("Reshape", ["x", "s"], ["c"], name="dyn_reshape2"),
    ]
    model = graph_model(nodes, {"x": X, "s": np.array([3, 2], np.int64)}, ["b", "c"])
    with pytest.raises(UnsupportedError) as info:
        import_onnx(model)
    text = str(info.value)
    assert "'dyn_reshape'" in text
    assert "'dyn_reshape2'" in text
    assert "must be a compile-time constant" in text
    assert "'after'" not in text  # follows from the first failure; not a separate problem


def test_symbolic_dims_need_pinning():
    model = graph_model([helper.make_node("Relu", ["x"], ["y"])], {"x": X}, ["y"])
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.ClearField("dim_value")
    dim.dim_param = "batch"
    with pytest.raises(UnsupportedError, match=r"\[batch,3\].*--input-shape x=N,3"):
        import_onnx(model)
    graph = import_onnx(model, {"x": (5, 3)})
    assert graph.inputs[0].type.shape == (5, 3)
    with pytest.raises(UsageError, match="unknown inputs"):
        import_onnx(model, {"nope": (1,)})
    with pytest.raises(UsageError, match="rank 2"):
        import_onnx(model, {"x": (1, 2, 3)})


def test_malformed_files(tmp_path: Path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not a protobuf at all \xff\xfe" * 10)
    with pytest.raises(ModelError, match=r"garbage\.onnx"):
        import_onnx(garbage)
    model = graph_model([helper.make_node("Relu", ["x"], ["y"])], {"x": X}, ["y"])
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(model.SerializeToString()[:-7])
    with pytest.raises(ModelError):
        import_onnx(truncated)
    with pytest.raises(ModelError, match="no such file"):
        import_onnx(tmp_path / "missing.onnx")


def test_external_data_outside_the_model_folder_is_refused(tmp_path: Path):
    (tmp_path / "secret.bin").write_bytes(np.ones(6, np.float32).tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    w = onnx.numpy_helper.from_array(np.zeros((2, 3), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("length", "24")):
        w.external_data.add(key=key, value=value)
    model = graph_model([helper.make_node("Add", ["x", "w"], ["y"])], {"x": X}, ["y"])
    model.graph.initializer.append(w)
    path = folder / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="outside the model's folder; refused"):
        import_onnx(path)


def test_cycles_are_reported():
    nodes = [
        helper.make_node("Relu", ["b"], ["a"], name="one"),
        helper.make_node("Relu", ["a"], ["b"], name="two"),
    ]
    model = graph_model([], {"x": X}, [])
    model.graph.node.extend(nodes)
    model.graph.output.append(onnx.ValueInfoProto(name="a"))
    with pytest.raises(ModelError, match="cycle through nodes 'one', 'two'"):
        import_onnx(model)


def test_dangling_input_is_reported():
    model = graph_model([], {"x": X}, [])
    model.graph.node.append(helper.make_node("Add", ["x", "ghost"], ["y"], name="adder"))
    model.graph.output.append(onnx.ValueInfoProto(name="y"))
    with pytest.raises(UnsupportedError, match=r"'adder'.*\['ghost'\] are not defined"):
        import_onnx(model)
