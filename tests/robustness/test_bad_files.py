"""Files: external data must stay inside the model's folder; a failed command leaves no
partial output or temp file behind; outputs are never overwritten without --force."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import fftc
from fftc.errors import ModelError
from fftc.testing.onnx_builder import graph_model
from tests.robustness.helpers import X, assert_clean_message, assert_cli_error, fftc_cli, save

W = np.arange(6, dtype=np.float32).reshape(2, 3)

# -- external data -----------------------------------------------------------------------


def _external_model(folder: Path, location: str, constant_node: bool = False) -> Path:
    """y = x + w, with w's data in the file ``location`` (an initializer or a Constant)."""
    w = numpy_helper.from_array(W, "w")
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    nodes = [helper.make_node("Add", ["x", "w"], ["y"], name="add")]
    if constant_node:
        nodes.insert(0, helper.make_node("Constant", [], ["w"], name="w_const", value=w))
    model = graph_model(nodes, {"x": X}, ["y"])
    if not constant_node:
        model.graph.initializer.append(w)
    folder.mkdir(parents=True, exist_ok=True)
    return save(model, folder / "m.onnx")


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """tmp/secret.bin (outside), tmp/model/{w.bin, data/w.bin, link.bin -> ../secret.bin}."""
    (tmp_path / "secret.bin").write_bytes(W.tobytes())
    model = tmp_path / "model"
    (model / "data").mkdir(parents=True)
    (model / "w.bin").write_bytes(W.tobytes())
    (model / "data" / "w.bin").write_bytes(W.tobytes())
    os.symlink(tmp_path / "secret.bin", model / "link.bin")
    return tmp_path


@pytest.mark.parametrize("constant_node", [False, True], ids=["initializer", "constant"])
@pytest.mark.parametrize("where", ["absolute", "dotdot", "nested-dotdot", "symlink"])
def test_external_data_leaving_the_folder_is_refused(layout, where, constant_node):
    location = {
        "absolute": str(layout / "secret.bin"),
        "dotdot": "../secret.bin",
        "nested-dotdot": "data/../../secret.bin",
        "symlink": "link.bin",
    }[where]
    path = _external_model(layout / "model", location, constant_node)
    with pytest.raises(ModelError) as info:
        fftc.compile(path)
    assert_clean_message(str(info.value), "m.onnx", "'w'", "outside")


@pytest.mark.parametrize("location", ["w.bin", "data/w.bin"])
def test_external_data_inside_the_folder_is_used(layout, location):
    module = fftc.compile(_external_model(layout / "model", location))
    np.testing.assert_array_equal(module.run({"x": X})["y"], X + W)


def test_external_data_escape_cli(layout):
    path = _external_model(layout / "model", "../secret.bin")
    r = fftc_cli("compile", str(path), "-o", str(layout / "out.fftc"))
    assert_cli_error(r, "'w'", "outside", codes=(2,))
    assert not (layout / "out.fftc").exists()


# -- no partial output after a failure -----------------------------------------------------


def _bad_models() -> dict[str, bytes]:
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    good = graph_model([relu], {"x": X}, ["y"]).SerializeToString()
    nan = graph_model(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")],
        {"x": X},
        ["y"],
        {"w": np.full((2, 3), np.nan, np.float32)},
    )
    odd = graph_model([helper.make_node("Unique", ["x"], ["y"], name="uniq")], {"x": X}, ["y"])
    return {
        "truncated": good[: len(good) // 2],
        "nan-weights": nan.SerializeToString(),
        "unsupported-op": odd.SerializeToString(),
    }


@pytest.mark.parametrize("kind", sorted(_bad_models()))
def test_failed_compile_leaves_no_artifact_or_temp_files(tmp_path, kind):
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    (work / "bad.onnx").write_bytes(_bad_models()[kind])
    r = fftc_cli("compile", "bad.onnx", "-o", "out.fftc", cwd=work, tmpdir=tmp)
    assert_cli_error(r, "bad.onnx")
    assert sorted(p.name for p in work.iterdir()) == ["bad.onnx"]
    assert list(tmp.iterdir()) == []


def test_failed_forced_compile_keeps_the_old_artifact(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(_bad_models()["unsupported-op"])
    (tmp_path / "out.fftc").write_bytes(b"the previous artifact")
    r = fftc_cli("compile", "bad.onnx", "-o", "out.fftc", "--force", cwd=tmp_path)
    assert_cli_error(r, "uniq")
    assert (tmp_path / "out.fftc").read_bytes() == b"the previous artifact"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx", "out.fftc"]


def test_failed_inspect_writes_no_output(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(_bad_models()["nan-weights"])
    r = fftc_cli("inspect", "bad.onnx", "-o", "ir.txt", cwd=tmp_path)
    assert_cli_error(r, "'w'")
    assert not (tmp_path / "ir.txt").exists()


def test_failed_python_compile_leaves_no_temp_files(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for data in _bad_models().values():
        (tmp_path / "bad.onnx").write_bytes(data)
        with pytest.raises(fftc.FftcError):
            fftc.compile(tmp_path / "bad.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]


# -- never overwrite without --force ---------------------------------------------------------


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    folder = tmp_path_factory.mktemp("art")
    save(graph_model([relu], {"x": X}, ["y"]), folder / "m.onnx")
    return fftc.compile(folder / "m.onnx").export(folder / "m.fftc")


def test_run_out_is_not_overwritten_without_force(artifact, tmp_path):
    out = tmp_path / "out.npz"
    out.write_bytes(b"precious")
    r = fftc_cli("run", str(artifact), "--random", "--out", str(out))
    assert_cli_error(r, "out.npz", "--force", codes=(2,))
    assert out.read_bytes() == b"precious"
    r = fftc_cli("run", str(artifact), "--random", "--out", str(out), "--force")
    assert r.returncode == 0, r.stderr
    with np.load(out) as data:
        assert data["y"].shape == (2, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def test_inspect_output_is_not_overwritten_without_force(artifact, tmp_path):
    out = tmp_path / "ir.txt"
    out.write_text("precious")
    model = artifact.with_name("m.onnx")
    r = fftc_cli("inspect", str(model), "-o", str(out))
    assert_cli_error(r, "ir.txt", "--force", codes=(2,))
    assert out.read_text() == "precious"
    r = fftc_cli("inspect", str(model), "-o", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert "relu" in out.read_text()


@pytest.mark.parametrize("command", ["compile", "run", "inspect"])
def test_output_that_is_a_directory_is_refused(artifact, tmp_path, command):
    model, art = str(artifact.with_name("m.onnx")), str(artifact)
    args = {
        "compile": ["compile", model, "-o", str(tmp_path)],
        "run": ["run", art, "--random", "--out", str(tmp_path), "--force"],
        "inspect": ["inspect", model, "-o", str(tmp_path), "--force"],
    }[command]
    assert_cli_error(fftc_cli(*args), "directory", codes=(2,))
    assert list(tmp_path.iterdir()) == []
