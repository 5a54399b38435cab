"""Run-time inputs that do not match the compiled module: an InputError naming the input
(CLI: exit status 2); never a TVM error or a crash. Extends tests/runtime/test_artifact.py
(missing/unknown names, wrong shape, float64, too many positional inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import fftc
from fftc.errors import InputError
from fftc.testing.onnx_builder import graph_model
from tests.robustness.helpers import assert_clean_message, assert_cli_error, fftc_cli

X = np.ones((2, 8), np.float32)
K = np.arange(8, dtype=np.int64)


@pytest.fixture(scope="module")
def module() -> fftc.Module:
    nodes = [
        helper.make_node("Cast", ["k"], ["kf"], name="cast", to=1),
        helper.make_node("Add", ["x", "kf"], ["y"], name="add"),
    ]
    return fftc.compile(graph_model(nodes, {"x": X, "k": K}, ["y"]))


@pytest.fixture(scope="module")
def artifact(module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return module.export(tmp_path_factory.mktemp("run") / "m.fftc")


WRONG = {
    "rank": ({"x": X[None], "k": K}, "'x'"),
    "scalar": ({"x": np.float32(1), "k": K}, "'x'"),
    "empty": ({"x": np.zeros((0, 8), np.float32), "k": K}, "'x'"),
    "int-for-float": ({"x": X.astype(np.int32), "k": K}, "int32"),
    "float-for-int": ({"x": X, "k": K.astype(np.float32)}, "'k'"),
    "int32-for-int64": ({"x": X, "k": K.astype(np.int32)}, "'k'"),
    "python-list": ({"x": X.tolist(), "k": K}, "'x'"),
    "string": ({"x": "hello", "k": K}, "'x'"),
    "none": ({"x": None, "k": K}, "'x'"),
    "object-array": ({"x": np.array([object()] * 16).reshape(2, 8), "k": K}, "'x'"),
    "missing": ({"x": X}, "'k'"),
    "extra": ({"x": X, "k": K, "z": X}, "'z'"),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_inputs_are_input_errors(module, case):
    feeds, needle = WRONG[case]
    with pytest.raises(InputError) as info:
        module.run(feeds)
    assert_clean_message(str(info.value), needle)


def test_inputs_given_twice(module):
    with pytest.raises(InputError, match="given twice"):
        module(X, K, x=X)


def test_non_contiguous_and_readonly_inputs_are_fine(module):
    x = np.asfortranarray(X + 1)
    x.setflags(write=False)
    k = np.arange(16, dtype=np.int64)[::2]
    np.testing.assert_array_equal(module.run({"x": x, "k": k})["y"], x + k)


def _npz(folder: Path, name: str, allow_pickle: bool = False, **arrays) -> str:
    path = folder / name
    np.savez(path, **arrays)
    return str(path)


def test_cli_run_inputs(artifact, tmp_path):
    """--inputs files that do not fit: exit status 2 and a message naming the problem."""
    cases = [
        (_npz(tmp_path, "names.npz", x=X, kk=K), ["'k'", "kk"]),
        (_npz(tmp_path, "dtype.npz", x=X, k=K.astype(np.float64)), ["'k'", "float64"]),
        (_npz(tmp_path, "objects.npz", x=X, k=np.array([{}, []], dtype=object)), ["objects.npz"]),
        (str(tmp_path / "absent.npz"), ["absent.npz"]),
        (str(tmp_path), [str(tmp_path)]),
    ]
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    cases.append((str(tmp_path / "junk.npz"), ["junk.npz"]))
    for path, needles in cases:
        r = fftc_cli("run", str(artifact), "--inputs", path, "--out", str(tmp_path / "o.npz"))
        assert_cli_error(r, *needles, codes=(2,))
        assert not (tmp_path / "o.npz").exists()
