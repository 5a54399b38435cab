"""Building the Monarch kernel for a GPU arch: CUDA source, the compiled library
(a fatbin from nvcc, no GPU needed) and per-kernel resources from ptxas.

    python -m fftc.kernels.cuda.build --n 1024 --dtype float16 --arch sm_90

prints the resource table (shared memory and registers per kernel).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fftc.codegen.cuda import CUDA_ARCHS, arch_info, require_nvcc, target_config
from fftc.codegen.cuda_build import compile_cuda
from fftc.codegen.tvm_api import cuda_target
from fftc.errors import CompileError

from .monarch import MonarchPlan, build_monarch_module

#: tensor-core instructions as they appear in CUDA source (WMMA API) or PTX (mma.sync)
TENSOR_CORE_PATTERN = re.compile(r"wmma::mma_sync|mma\.sync\.aligned")


@dataclass(frozen=True)
class KernelResources:
    """What ptxas reports for one ``__global__`` function."""

    name: str
    registers: int
    shared_bytes: int


@dataclass
class MonarchBuild:
    plan: MonarchPlan
    dtype: str
    arch: str
    source: str
    executable: Any

    @property
    def uses_tensor_cores(self) -> bool:
        return TENSOR_CORE_PATTERN.search(self.source) is not None

    def export(self, path: Path) -> Path:
        self.executable.export_library(str(path))
        return path


def compile_monarch(rows: int, heads: int, n: int, dtype: str, arch: str) -> MonarchBuild:
    """Schedule and compile the kernel for ``arch`` (nvcc, through the driver stub)."""
    target = cuda_target(target_config(arch))
    mod, plan = build_monarch_module(rows, heads, n, dtype, target)
    try:
        ex = compile_cuda(mod, target)
    except CompileError as err:
        raise CompileError(f"Monarch kernel N={n} {dtype} for {arch}: {err}") from err
    source = "\n".join(str(m.inspect_source("cuda")) for m in ex.mod.imports)
    return MonarchBuild(plan, dtype, arch, source, ex)


_PTXAS_FUNCTION = re.compile(r"Compiling entry function '(\w+)'")


def kernel_resources(source: str, arch: str) -> list[KernelResources]:
    """Registers and static shared memory per kernel, as ptxas reports them."""
    nvcc = require_nvcc()
    with tempfile.TemporaryDirectory(prefix="fftc-ptxas-") as tmp:
        src = Path(tmp) / "kernel.cu"
        src.write_text(source)
        proc = subprocess.run(
            [str(nvcc), "--cubin", f"-arch={arch}", "-O3", "--resource-usage",
             "-o", str(Path(tmp) / "kernel.cubin"), str(src)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if proc.returncode != 0:
        raise CompileError(f"nvcc failed on the kernel: {proc.stderr.strip()[-2000:]}")
    found: list[KernelResources] = []
    name = None
    for line in (proc.stdout + proc.stderr).splitlines():
        m = _PTXAS_FUNCTION.search(line)
        if m:
            name = m.group(1)
            continue
        usage = re.search(r"Used (\d+) registers", line)
        if usage and name is not None:
            smem = re.search(r"(\d+) bytes smem", line)
            found.append(KernelResources(name, int(usage.group(1)),
                                         int(smem.group(1)) if smem else 0))  # fmt: skip
            name = None
    return found


def check_shared_memory(resources: list[KernelResources], arch: str) -> None:
    """Refuse kernels that use more shared memory than one block of ``arch`` may."""
    limit = arch_info(arch).max_shared_bytes
    for r in resources:
        if r.shared_bytes > limit:
            raise CompileError(
                f"kernel {r.name} uses {r.shared_bytes} bytes of shared memory; "
                f"{arch} allows {limit} per block"
            )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Build the Monarch FFT convolution kernel.")
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--rows", type=int, default=64 * 768)
    p.add_argument("--heads", type=int, default=768)
    p.add_argument("--dtype", default="float16", choices=("float16", "bfloat16", "float32"))
    p.add_argument("--arch", default="sm_90", choices=CUDA_ARCHS)
    p.add_argument("--source", action="store_true", help="print the CUDA source")
    args = p.parse_args(argv)
    build = compile_monarch(args.rows, args.heads, args.n, args.dtype, args.arch)
    if args.source:
        print(build.source)
        return
    print(f"{build.plan.describe()}, {args.dtype}, {args.arch}, "
          f"tensor cores: {build.uses_tensor_cores}")  # fmt: skip
    for r in kernel_resources(build.source, args.arch):
        print(f"  {r.name:40s} {r.registers:4d} registers {r.shared_bytes:7d} B shared")


if __name__ == "__main__":
    main()
