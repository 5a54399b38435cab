"""``dft`` lowered for CUDA onto the Monarch kernel's forward stages
(``fftc.kernels.cuda.dft``), checked on the host: the Relax module the CUDA build lowers,
built for llvm, against NumPy's float64 FFTs (tolerances of
tests/cuda/test_fft_conv_monarch.py: two DFT matmul stages and the twiddles, the same
roundings); the fused fp32 schedule with its thread loops serial against the unscheduled
function; lengths the kernel cannot take keep the generic FFT kernel with a note; an
FNet-style 2-D DFT (768 along the hidden axis, then 512 along the sequence) compiled for
sm_90 in fp16: one kernel per DFT with tensor cores, in a fatbin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fftc.ir import DType, Graph, GraphBuilder, TensorType
from fftc.ir.ops.dft import DFTAttrs, dft_reference
from tests.cuda.host_schedule import schedule_and_compare
from tests.cuda.test_fft_conv_monarch import TOLERANCE, build_for_llvm, relative_error, run

F32 = DType.float32
DTYPES = sorted(TOLERANCE)

#: name: (x shape, attrs): every direction and side, the axis inside or first
CASES = {
    "fft-real-inner-axis": ((3, 512, 5, 1), DFTAttrs(1, 512)),
    "ifft-ortho": ((3, 512, 5, 2), DFTAttrs(1, 512, inverse=True, norm="ortho")),
    "rfft-768": ((4, 768, 1), DFTAttrs(1, 768, onesided=True)),
    "irfft-768": ((4, 385, 2), DFTAttrs(1, 768, inverse=True, onesided=True)),
    "fft-first-axis-forward-norm": ((256, 6, 2), DFTAttrs(0, 256, norm="forward")),
}


def _graph(shape: tuple[int, ...], attrs: DFTAttrs) -> Graph:
    b = GraphBuilder("g")
    x = b.input("x", TensorType(shape, F32))
    return b.build([b.node1("dft", [x], attrs, name="d")], ["y"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_monarch_dft_matches_float64(case: str, dtype: str) -> None:
    shape, attrs = CASES[case]
    executable, notes, monarch = build_for_llvm(_graph(shape, attrs), dtype)
    assert monarch == ["dft 'd'"], notes
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    exact = dft_reference(x.astype(np.float64), attrs)
    (got,) = run(executable, x)
    assert got.shape == exact.shape
    assert relative_error(got, exact) <= TOLERANCE[dtype]


@pytest.mark.parametrize("case", ["fft-real-inner-axis", "irfft-768", "rfft-768"])
def test_fp32_schedule_computes_the_same_on_the_host(case: str) -> None:
    """One kernel (the rfft's half-spectrum output is not a region TVM can anchor: the
    staged kernels, with the reason), thread loops serial: equal to float32 rounding."""
    used, error = schedule_and_compare(_graph(*CASES[case]))
    if case == "rfft-768":
        assert used[0].startswith("monarch.fused: not fused (TVM: "), used
    else:
        assert used[0].startswith("monarch.fused:one kernel ("), used
    assert error <= 1e-6


def test_lengths_the_kernel_cannot_take_keep_the_fft_kernel() -> None:
    """n = 64 (FNet's small example): no 16 x 16 split."""
    _, notes, monarch = build_for_llvm(_graph((2, 64, 1), DFTAttrs(1, 64)), "float32")
    assert monarch == []
    assert any("not on the tensor-core Monarch kernel" in n and "multiples of 16" in n
               for n in notes), notes  # fmt: skip


def test_fnet_style_2d_dft_on_tensor_cores(nvcc: str, tmp_path: Path) -> None:
    from fftc.codegen.build import build
    from fftc.codegen.cuda import FATBIN_MAGIC
    from fftc.codegen.tvm_api import cuda_source
    from fftc.target import parse_target

    b = GraphBuilder("g")
    x = b.input("x", TensorType((2, 512, 768, 1), F32))
    hidden = b.node1("dft", [x], DFTAttrs(2, 768), name="hidden")
    graph = b.build([b.node1("dft", [hidden], DFTAttrs(1, 512), name="seq")], ["y"])
    result = build(graph, parse_target("cuda:sm_90"), dtype="float16")
    assert result is not None
    assert result.schedule.scheduled == {
        "monarch_dft512": ["monarch.fused:one kernel (4 warps, 6144 B shared)"],
        "monarch_dft768": ["monarch.fused:one kernel (6 warps, 9216 B shared)"],
    }
    assert "wmma::mma_sync" in cuda_source(result.executable)
    result.executable.export_library(str(tmp_path / "fnet.so"))
    assert FATBIN_MAGIC in (tmp_path / "fnet.so").read_bytes()
