"""The .fftc artifact: round trip, runtime-only loading, refusal of tampered,
truncated or incompatible files, and never overwriting silently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import fftc
from fftc.errors import ArtifactError, InputError, UsageError
from fftc.runtime.artifact import LIBRARY, MANIFEST
from fftc.testing import assert_close, run_onnxruntime
from fftc.testing.onnx_builder import graph_model

X = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
W = np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Tanh", ["h"], ["y"]),
        helper.make_node("ReduceSum", ["h"], ["s"], keepdims=0),
    ]
    return graph_model(nodes, {"x": X}, ["y", "s"], {"w": W})


@pytest.fixture(scope="module")
def compiled(model):
    return fftc.compile(model)


@pytest.fixture
def artifact(compiled, tmp_path: Path) -> Path:
    return compiled.export(tmp_path / "m.fftc")


def test_round_trip(compiled, model, artifact):
    loaded = fftc.load(artifact)
    ref = run_onnxruntime(model, {"x": X})
    for outs in (compiled.run({"x": X}), loaded.run({"x": X})):
        for name in ("y", "s"):
            assert_close(outs[name], ref[name], 1e-5, name)
    y, _ = loaded(X)
    np.testing.assert_array_equal(y, loaded.run({"x": X})["y"])
    assert [s.name for s in loaded.inputs] == ["x"]
    assert [(s.name, s.shape) for s in loaded.outputs] == [("y", (2, 4)), ("s", ())]


def test_loads_in_a_fresh_process_with_only_the_tvm_runtime(compiled, artifact, tmp_path):
    np.save(tmp_path / "x.npy", X)
    script = textwrap.dedent(
        f"""
        import sys, numpy as np, fftc
        m = fftc.load({str(artifact)!r})
        y = m.run({{"x": np.load({str(tmp_path / "x.npy")!r})}})["y"]
        np.save({str(tmp_path / "y.npy")!r}, y)
        import tvm
        assert tvm._RUNTIME_ONLY, "TVM compiler was loaded"
        bad = [k for k in sys.modules if k.startswith(("tvm.relax", "tvm.s_tir", "fftc.codegen",
                                                       "fftc.frontend", "onnx"))]
        assert not bad, bad
        """
    )
    env = {**os.environ, "TVM_USE_RUNTIME_LIB": "1"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), compiled.run({"x": X})["y"])


def _rewrite(artifact: Path, out: Path, manifest=None, library=None) -> Path:
    with zipfile.ZipFile(artifact) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == MANIFEST and manifest is not None:
                data = manifest(json.loads(data)).encode()
            if item.filename == LIBRARY and library is not None:
                data = library(data)
            dst.writestr(item.filename, data)
    return out


def _flip_byte(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]


def _with(key, value):
    def edit(m):
        m[key] = value
        return json.dumps(m)

    return edit


def _target_flags(m):
    m["target"]["cpu_flags"] = ["amx_tile", "avx512_fp16"]
    return json.dumps(m)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"library": _flip_byte}, "sha256 does not match"),
        ({"manifest": _with("fftc_version", "9.9.0")}, "built by fftc 9.9.0"),
        ({"manifest": _with("tvm_version", "0.12.0")}, "built with TVM 0.12.0"),
        ({"manifest": _with("format_version", 99)}, "format version 99"),
        ({"manifest": lambda m: "{not json"}, "not valid JSON"),
        ({"manifest": _with("library_size", 5)}, "modified or truncated"),
    ],
)
def test_tampered_or_incompatible_artifacts_are_refused(artifact, tmp_path, edit, message):
    bad = _rewrite(artifact, tmp_path / "bad.fftc", **edit)
    with pytest.raises(ArtifactError, match=message):
        fftc.load(bad)


def test_missing_cpu_features_are_refused(artifact, tmp_path):
    from fftc.runtime.artifact import host_cpu_flags

    if {"amx_tile", "avx512_fp16"} <= host_cpu_flags():
        pytest.skip("this CPU has every flag the test pretends to need")
    bad = _rewrite(artifact, tmp_path / "bad.fftc", manifest=_target_flags)
    with pytest.raises(ArtifactError, match="this CPU lacks them"):
        fftc.load(bad)


def test_truncated_and_foreign_files_are_refused(artifact, tmp_path):
    data = artifact.read_bytes()
    for name, content in (("trunc.fftc", data[: len(data) // 2]), ("junk.fftc", b"junk" * 64)):
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(ArtifactError):
            fftc.load(p)
    with pytest.raises(ArtifactError, match="no such artifact"):
        fftc.load(tmp_path / "absent.fftc")


def test_export_never_overwrites_silently(compiled, artifact, tmp_path):
    before = artifact.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        compiled.export(artifact)
    assert artifact.read_bytes() == before
    compiled.export(artifact, force=True)
    with pytest.raises(UsageError, match="no such directory"):
        compiled.export(tmp_path / "nowhere" / "m.fftc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fftc"]  # no temp files left


def test_inputs_are_checked(compiled):
    with pytest.raises(InputError, match=r"missing \['x'\], unknown \['z'\]"):
        compiled.run({"z": X})
    with pytest.raises(InputError, match=r"got float32\[3, 8\], the model takes float32\[2, 8\]"):
        compiled.run({"x": np.zeros((3, 8), np.float32)})
    with pytest.raises(InputError, match="got float64"):
        compiled.run({"x": X.astype(np.float64)})
    with pytest.raises(InputError, match="takes 1 inputs, got 2"):
        compiled(X, X)


@pytest.mark.torch
def test_dlpack_tensors_in_and_out(compiled):
    import torch

    y = compiled.run({"x": torch.from_numpy(X)})["y"]
    assert isinstance(y, torch.Tensor)
    np.testing.assert_array_equal(y.numpy(), compiled.run({"x": X})["y"])
