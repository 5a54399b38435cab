"""The CUDA-specific steps of ``fftc.codegen.build``.

* :func:`cuda_tvm_target`: the TVM target of a ``cuda:sm_XY`` spec;
* :func:`apply_precision`: ``--dtype fp16|bf16``; matmuls run on half-precision
  operands with float32 accumulation (dlight tensorizes them with WMMA when
  every dim exceeds 64); their weights are stored in half precision (the cast
  of a constant is folded).  FFT convolutions the Monarch kernel takes were
  already lowered with ``dtype`` DFT matmuls (``lower/cuda_kernels.py``).  The
  model's inputs and outputs keep the dtypes it declares, and the other ops
  compute in float32.  Models with neither are refused for half precision,
  since ``--dtype`` would change nothing;
* :func:`compile_cuda`: ``tvm.compile`` with nvcc producing fatbins.
"""

from __future__ import annotations

from typing import Any

from fftc.codegen.cuda import prepare_cuda_codegen, target_config
from fftc.codegen.tvm_api import cuda_target, ir, relax, tvm
from fftc.errors import CompileError, UsageError
from fftc.target import TargetSpec

#: ``--dtype`` names -> TVM dtypes
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def compute_dtype(name: str, spec: TargetSpec) -> str:
    """The TVM dtype of a ``--dtype`` name, checked against the target."""
    if name not in DTYPES and name not in DTYPES.values():
        raise UsageError(f"unknown --dtype {name!r}; use one of {', '.join(DTYPES)}")
    dtype = DTYPES.get(name, name)
    if dtype != "float32" and spec.kind != "cuda":
        raise UsageError(
            f"--dtype {name} is for cuda targets (e.g. --target cuda:sm_90); "
            f"target {spec} computes in the model's own dtypes"
        )
    return dtype


def cuda_tvm_target(spec: TargetSpec) -> Any:
    return cuda_target(target_config(spec.arch))


@relax.expr_functor.mutator
class _HalfMatmuls(relax.PyExprMutator):
    """``matmul(a, b)`` on float32 -> ``matmul(half(a), half(b), out_dtype=float32)``."""

    def __init__(self, mod: ir.IRModule, dtype: str) -> None:
        super().__init__(mod)
        self.dtype = dtype
        self.rewritten = 0

    def visit_call_(self, call: relax.Call) -> relax.Expr:
        call = self.visit_expr_post_order(call)
        if not isinstance(call.op, ir.Op) or call.op.name != "relax.matmul":
            return call
        args = list(call.args)
        if any(_dtype(a) != "float32" for a in args) or _dtype(call) != "float32":
            return call
        half = [self.builder_.emit(relax.op.astype(a, self.dtype)) for a in args]
        self.rewritten += 1
        return relax.op.matmul(half[0], half[1], out_dtype="float32")


def _dtype(expr: Any) -> str:
    return str(getattr(getattr(expr, "ty", None), "dtype", ""))


def apply_precision(mod: ir.IRModule, dtype: str, monarch_ops: int = 0) -> tuple[ir.IRModule, str]:
    """Rewrite float32 matmuls to ``dtype`` operands with float32 accumulation.

    ``monarch_ops``: how many FFT convolutions and DFTs lowering already put on the
    Monarch kernel in ``dtype``.  Returns the module and a note for ``--explain``."""
    if dtype == "float32":
        return mod, "precision fp32: every op computes in the model's dtypes"
    mutator = _HalfMatmuls(mod, dtype)
    updated = {}
    for gvar, func in mod.functions_items():
        if isinstance(func, relax.Function):
            updated[gvar] = mutator.visit_expr(func)
    if mutator.rewritten == 0 and monarch_ops == 0:
        raise UsageError(
            f"--dtype {_short_name(dtype)}: this model has no float32 matmul and no FFT "
            "convolution or DFT the Monarch kernel takes, to run in half precision (the other "
            "ops compute in float32); use --dtype fp32"
        )
    for gvar, func in updated.items():
        mod[gvar] = func
    return mod, (
        f"precision {_short_name(dtype)}: {mutator.rewritten} matmul(s) and {monarch_ops} "
        f"Monarch FFT convolution(s)/DFT(s) on {dtype} operands with float32 accumulation; "
        "other FFTs and ops in float32; inputs/outputs as declared"
    )


def _short_name(dtype: str) -> str:
    return {v: k for k, v in DTYPES.items()}.get(dtype, dtype)


def compile_cuda(mod: ir.IRModule, target: Any) -> Any:
    """``tvm.compile`` for CUDA, with nvcc producing a fatbin (see ``fftc.codegen.cuda``)."""
    prepare_cuda_codegen()
    try:
        with target:
            return tvm.compile(mod, target=target)
    except Exception as err:
        lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
        raise CompileError(
            f"CUDA code generation failed: {lines[-1] if lines else type(err).__name__}"
        ) from err
