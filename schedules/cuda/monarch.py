"""CUDA templates for the Monarch FFT convolution's stages (``fftc.kernels.cuda.monarch``),
when ``fft_conv`` was lowered to it (``fftc.codegen.lower.cuda_kernels``).

* ``monarch.matmul``: a batched DFT matmul; fp16/bf16 operands run on tensor
  cores (WMMA 16x16x16, one thread block per row, one warp per output tile,
  operands staged in shared memory), float32 ones get one thread per output.
  The schedules are :mod:`fftc.kernels.cuda.tensorcore`'s, as for the
  standalone kernel.
* ``monarch.stage``: an elementwise stage (the padded input load, twiddles,
  spectrum product, the output with the epilogue Relax fused into it): one
  thread per output point.

These give one kernel per stage (the staged schedule): for a two-factor plan
``fftc.codegen.cuda_schedule`` first tries ``monarch_fused.py`` (one kernel) and
uses these when its knob ``fused`` is off or it is refused.
"""

from __future__ import annotations

from typing import Any

from fftc.kernels.cuda.monarch import MATMUL_TAG, STAGE_TAG

from ..base import KnobSource, template
from .threads import THREADS, bind_block_threads


def operand_dtype(sch: Any, block: Any) -> str:
    """The dtype of a matmul block's operands (its first read buffer)."""
    return str(sch.get(block).reads[0].source.dtype)


@template(MATMUL_TAG, "cuda")
def monarch_matmul(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    """Tensor cores for fp16/bf16 operands, CUDA cores for fp32 (see module doc)."""
    from fftc.kernels.cuda.tensorcore import schedule_matmul

    schedule_matmul(sch, block, operand_dtype(sch, block))


@template(STAGE_TAG, "cuda", knobs=[THREADS])
def monarch_stage(sch: Any, block: Any, target: Any, knobs: KnobSource) -> None:
    """One thread per output point of the stage."""
    limit = int(target.attrs.get("max_threads_per_block", 1024))
    bind_block_threads(sch, block, min(int(knobs.get(THREADS)), limit))
