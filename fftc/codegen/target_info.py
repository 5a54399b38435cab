"""Facts about targets that need TVM's LLVM (compile side only)."""

from __future__ import annotations

from fftc.codegen.tvm_api import llvm_target, tvm
from fftc.runtime.artifact import ISA_FLAGS
from fftc.target import TargetSpec

#: LLVM feature name -> /proc/cpuinfo flag
_LLVM_TO_CPUINFO = {
    "sse4.1": "sse4_1",
    "sse4.2": "sse4_2",
    "avx": "avx",
    "avx2": "avx2",
    "fma": "fma",
    "f16c": "f16c",
    "bmi": "bmi1",
    "bmi2": "bmi2",
    "avx512f": "avx512f",
    "avx512dq": "avx512dq",
    "avx512cd": "avx512cd",
    "avx512bw": "avx512bw",
    "avx512vl": "avx512vl",
    "avx512vnni": "avx512_vnni",
    "avx512bf16": "avx512_bf16",
    "avx512fp16": "avx512_fp16",
    "avx512vbmi": "avx512vbmi",
    "amx-tile": "amx_tile",
}


def required_cpu_flags(spec: TargetSpec) -> list[str]:
    """The ISA flags code built for ``spec`` may use (checked when an artifact loads)."""
    if spec.kind != "llvm":
        return []
    features = tvm.target.codegen.llvm_get_cpu_features(llvm_target(spec.arch, 1))
    flags = {_LLVM_TO_CPUINFO[str(f)] for f in features if str(f) in _LLVM_TO_CPUINFO}
    return sorted(flags & set(ISA_FLAGS))
