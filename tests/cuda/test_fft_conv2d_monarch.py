"""``fft_conv2d`` lowered for CUDA onto the Monarch kernel's stages (twiddles one), checked
on the host: the Relax module the CUDA build lowers, built for llvm and run against
float64 NumPy (tolerances: tests/cuda/test_fft_conv_monarch.py, whose DFT matmuls
and roundings these are); images the kernel cannot take keep the generic kernel with a
note; a depthwise 31x31 block compiled for cuda:sm_90 in fp16 runs it on tensor cores.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fftc.cli.main import main
from fftc.ir import DType, Graph, GraphBuilder, TensorType
from fftc.ir.ops.spectral import FFTConv2DAttrs, fft_conv2d_reference
from tests.conftest import EXAMPLES
from tests.cuda.host_schedule import schedule_and_compare
from tests.cuda.test_fft_conv_monarch import TOLERANCE, build_for_llvm, relative_error, run

F32 = DType.float32
DTYPES = sorted(TOLERANCE)

#: name: (x shape, lengths, out_shape, strides, axis, spectrum shape)
CASES = {
    "nchw-per-channel": ((2, 3, 20, 30), (32, 48), (20, 30), (1, 1), -2, (3, 32, 25, 2)),
    "nhwc-strided-one-spectrum": ((2, 14, 14, 3), (32, 32), (7, 7), (2, 2), -3, (32, 17, 1, 2)),
    "64x64-image": ((1, 2, 50, 60), (64, 64), (50, 60), (1, 1), -2, (2, 64, 33, 2)),
}


def _graph(case: tuple[Any, ...]) -> tuple[Graph, FFTConv2DAttrs, np.ndarray]:
    shape, lengths, out, strides, axis, kshape = case
    attrs = FFTConv2DAttrs(lengths, out, strides, axis)
    spectrum = np.random.default_rng(0).standard_normal(kshape).astype(np.float32)
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    y = b.node1("fft_conv2d", [x, b.constant(spectrum, "k")], attrs, name="fc")
    return b.build([y], ["y"]), attrs, spectrum


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_2d_monarch_lowering_matches_float64(case: str, dtype: str) -> None:
    graph, attrs, spectrum = _graph(CASES[case])
    executable, notes, monarch = build_for_llvm(graph, dtype)
    assert monarch == ["fft_conv2d 'fc'"], notes
    x = np.random.default_rng(1).standard_normal(CASES[case][0]).astype(np.float32)
    exact = fft_conv2d_reference(x.astype(np.float64), spectrum.astype(np.float64), attrs)
    (got,) = run(executable, x)
    assert got.shape == exact.shape
    assert relative_error(got, exact) <= TOLERANCE[dtype]


@pytest.mark.parametrize(
    ("lengths", "why"),
    [((30, 32), "multiples of 16"), ((80, 80), "over the 4096")],
)
def test_images_the_kernel_cannot_take_keep_the_fft_kernel(
    lengths: tuple[int, int], why: str
) -> None:
    shape, kshape = (1, 2, 20, 20), (2, lengths[0], lengths[1] // 2 + 1, 2)
    graph, _, _ = _graph((shape, lengths, (20, 20), (1, 1), -2, kshape))
    _, notes, monarch = build_for_llvm(graph, "float32")
    assert monarch == []
    assert any("not on the tensor-core Monarch kernel" in n and why in n for n in notes), notes


def test_depthwise_31x31_block_on_tensor_cores(nvcc: str, tmp_path: Path) -> None:
    """examples/onnx/dwconv31_block.onnx for cuda:sm_90 in fp16: its 31x31 convolution
    (a 48x48 fft_conv2d) is the Monarch PrimFunc, with WMMA, compiled into a fatbin."""
    model = EXAMPLES / "onnx" / "dwconv31_block.onnx"
    common = [str(model), "--target", "cuda:sm_90", "--dtype", "fp16"]
    src = tmp_path / "dw.cu"
    assert main(["inspect", *common, "--stage", "cuda", "-o", str(src)]) == 0
    source = src.read_text()
    kernels = re.findall(r"__global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(", source)
    assert any("monarch_conv2d_48x48" in k for k in kernels), kernels
    assert "wmma::mma_sync" in source
    assert main(["-q", "compile", *common, "-o", str(tmp_path / "dw.fftc")]) == 0


#: fused-schedule host checks: (x shape, lengths, out_shape, axis, spectrum shape)
FUSED_CASES = {
    "nchw": ((2, 3, 20, 30), (32, 48), (20, 30), -2, (3, 32, 25, 2)),
    "nhwc-two-images": ((2, 14, 14, 3), (32, 32), (14, 14), -3, (32, 17, 3, 2)),
}


@pytest.mark.parametrize("case", sorted(FUSED_CASES))
def test_fused_schedule_computes_the_same_on_the_host(case: str) -> None:
    """The one-kernel fp32 schedule of a 2-D Monarch convolution, its thread loops made
    serial, against the unscheduled function (the output re-indexed as (row, oh*OW + ow)
    so each thread block writes exactly its image): equal to float32 rounding (1e-6)."""
    shape, lengths, out, axis, kshape = FUSED_CASES[case]
    graph, _, _ = _graph((shape, lengths, out, (1, 1), axis, kshape))
    used, error = schedule_and_compare(graph)
    assert used[0].startswith("monarch.fused:one kernel ("), used
    assert error <= 1e-6


def test_48x48_images_fuse_with_three_warps(nvcc: str) -> None:
    """48 x 48: 9, 18 and 18 WMMA tiles per matmul, so 3 warps own whole tiles (not 1)."""
    from fftc.codegen.cuda_schedule import schedule_fftc_kernels
    from tests.cuda.host_schedule import cuda_target, fused_module, monarch_func

    shape, kshape = (1, 4, 32, 32), (4, 48, 25, 2)
    graph, _, _ = _graph((shape, (48, 48), (32, 32), (1, 1), -2, kshape))
    func = monarch_func(fused_module(graph, "float16"))["main"]
    _, used = schedule_fftc_kernels(func, cuda_target())
    assert used[0].startswith("monarch.fused:one kernel (3 warps, "), used
