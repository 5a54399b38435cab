"""How ``Module.run`` hands arrays to the VM and results back.

Inputs are shared with the VM when C-contiguous and 64-byte aligned, copied to an
aligned buffer otherwise: TVM's CPU kernels may assume the alignment, and the GFNet
filter's kernel segfaulted on a 4- or 16-byte-aligned input (a torch view with an
offset reached it through DLPack). Results come back as NumPy arrays that share TVM's
memory, unless they are an input itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

import fftc
from fftc.runtime.tvm_runtime import ALIGNMENT
from fftc.testing import random_inputs
from fftc.testing.onnx_builder import graph_model

ROOT = Path(__file__).resolve().parents[2]
GFNET = ROOT / "examples" / "onnx" / "gfnet_filter.onnx"


@pytest.fixture(scope="module")
def gfnet() -> fftc.Module:
    return fftc.compile(GFNET)


@pytest.fixture(scope="module")
def feeds() -> dict[str, np.ndarray]:
    return random_inputs(GFNET, 0, {})


def _at_offset(x: np.ndarray, offset: int) -> np.ndarray:
    """``x`` copied to an address ``offset`` bytes past a 64-byte boundary."""
    buf = np.empty(x.nbytes + 2 * ALIGNMENT, np.uint8)
    start = -buf.ctypes.data % ALIGNMENT + offset
    out = buf[start : start + x.nbytes].view(x.dtype).reshape(x.shape)
    out[...] = x
    assert out.ctypes.data % ALIGNMENT == offset
    return out


@pytest.mark.parametrize("offset", [0, 4, 16, 32])
def test_inputs_at_any_alignment(gfnet: fftc.Module, feeds: dict[str, np.ndarray], offset: int):
    # Results are compared exactly: the same kernels on the same values.
    (name, x), want = next(iter(feeds.items())), gfnet.run(feeds)
    got = gfnet.run({name: _at_offset(x, offset)})
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value)


def test_strided_and_read_only_inputs(gfnet: fftc.Module, feeds: dict[str, np.ndarray]):
    (name, x), want = next(iter(feeds.items())), gfnet.run(feeds)
    wide = np.zeros((*x.shape[:-1], 2 * x.shape[-1]), x.dtype)
    wide[..., ::2] = x
    frozen = x.copy()
    frozen.flags.writeable = False
    for arg in (wide[..., ::2], frozen):
        got = gfnet.run({name: arg})
        for key, value in want.items():
            np.testing.assert_array_equal(got[key], value)


@pytest.mark.torch
@pytest.mark.parametrize("offset", [0, 1, 4])
def test_torch_views_at_any_alignment(
    gfnet: fftc.Module, feeds: dict[str, np.ndarray], offset: int
):
    import torch

    (name, x), want = next(iter(feeds.items())), gfnet.run(feeds)
    base = torch.zeros(x.size + offset)
    view = base[offset:].view(x.shape)
    view.copy_(torch.from_numpy(x))
    got = gfnet.run({name: view})
    for key, value in want.items():
        np.testing.assert_array_equal(got[key].numpy(), value)


def test_results_of_earlier_runs_stay_as_they_were(
    gfnet: fftc.Module, feeds: dict[str, np.ndarray]
):
    name, x = next(iter(feeds.items()))
    first = gfnet.run(feeds)
    kept = {k: v.copy() for k, v in first.items()}
    gfnet.run({name: 2 * x + 1})
    for key, value in kept.items():
        np.testing.assert_array_equal(first[key], value)


def test_a_returned_input_is_a_copy(tmp_path: Path):
    """A model whose output is its input: the result must not alias the caller's array."""
    x = np.zeros((4, 16), np.float32)
    path = tmp_path / "identity.onnx"
    onnx.save(graph_model([helper.make_node("Identity", ["x"], ["y"])], {"x": x}, ["y"]), path)
    module = fftc.compile(path)
    arg = _at_offset(np.arange(64, dtype=np.float32).reshape(4, 16), 0)
    y = module.run({"x": arg})["y"]
    np.testing.assert_array_equal(y, arg)
    arg[0, 0] = -1.0
    assert y[0, 0] == 0.0


@pytest.mark.torch
def test_non_contiguous_torch_tensors(gfnet: fftc.Module, feeds: dict[str, np.ndarray]):
    import torch

    (name, x), want = next(iter(feeds.items())), gfnet.run(feeds)
    # the same values, stored in the reverse axis order (a permuted view)
    view = torch.from_numpy(np.ascontiguousarray(x.transpose())).permute(*reversed(range(x.ndim)))
    assert not view.is_contiguous()
    got = gfnet.run({name: view})
    for key, value in want.items():
        np.testing.assert_array_equal(got[key].numpy(), value)


def test_bfloat16_results(tmp_path: Path):
    """NumPy's DLPack has no bfloat16: such results are converted by TVM (ml_dtypes)."""
    import ml_dtypes

    x = np.linspace(-2, 2, 64, dtype=np.float32).reshape(4, 16)
    cast = helper.make_node("Cast", ["x"], ["y"], to=onnx.TensorProto.BFLOAT16)
    path = tmp_path / "cast.onnx"
    onnx.save(graph_model([cast], {"x": x}, ["y"]), path)
    y = fftc.compile(path).run({"x": x})["y"]
    assert y.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(y, x.astype(ml_dtypes.bfloat16))


@pytest.mark.torch
def test_bfloat16_torch_views(tmp_path: Path):
    """Misaligned and strided bfloat16 tensors (which NumPy's DLPack cannot take) are
    copied by TVM and the framework; the results match the contiguous tensor's."""
    import ml_dtypes
    import torch

    x = np.zeros((4, 8), ml_dtypes.bfloat16)
    cast = helper.make_node("Cast", ["x"], ["y"], to=onnx.TensorProto.FLOAT)
    path = tmp_path / "cast.onnx"
    onnx.save(graph_model([cast], {"x": x}, ["y"]), path)
    module = fftc.compile(path)
    base = torch.arange(40, dtype=torch.float32).to(torch.bfloat16)
    for view in (base[1:33].view(4, 8), base[:32].view(8, 4).t()):
        got = module.run({"x": view})["y"]
        assert torch.equal(got, view.float())
