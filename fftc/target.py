"""Target specs: what users write (``llvm``, ``llvm:znver4``, ``cuda:sm_90``) and
what fftc records in manifests and tuning logs.  No TVM import here."""

from __future__ import annotations

import os
from dataclasses import dataclass

from fftc.errors import UsageError

KINDS = ("llvm", "cuda")


@dataclass(frozen=True)
class TargetSpec:
    """A compilation target: ``kind`` plus the CPU (llvm) or GPU arch (cuda)."""

    kind: str
    arch: str
    num_cores: int = 1

    @property
    def key(self) -> str:
        """Stable identity used to match tuning logs and artifacts."""
        return f"{self.kind}:{self.arch}"

    def to_dict(self) -> dict[str, str | int]:
        return {"kind": self.kind, "arch": self.arch, "num_cores": self.num_cores}

    def __str__(self) -> str:
        return self.key


def parse_target(text: str | TargetSpec | None) -> TargetSpec:
    """Parse ``llvm`` / ``cpu`` / ``llvm:<mcpu>`` / ``cuda`` / ``cuda:sm_XY``.

    ``cuda`` without an arch means the local GPU's; without one, the error says
    to name an arch (cross-compiling needs only nvcc, see ``fftc.codegen.cuda``).
    """
    if isinstance(text, TargetSpec):
        return text
    spec = (text or "llvm").strip()
    kind, _, arch = spec.partition(":")
    kind = {"cpu": "llvm"}.get(kind, kind)
    if kind == "llvm":
        if not arch:
            from fftc.codegen.tvm_api import host_cpu

            arch = host_cpu()
        return TargetSpec("llvm", arch, os.cpu_count() or 1)
    if kind == "cuda":
        return TargetSpec("cuda", _cuda_arch(spec, arch), 1)
    raise UsageError(
        f"unknown target {spec!r}; use 'llvm' (this CPU), 'llvm:<cpu name>' or "
        "'cuda:sm_XY' (e.g. cuda:sm_90)"
    )


def _cuda_arch(spec: str, arch: str) -> str:
    from fftc.codegen.cuda import CUDA_ARCHS, local_cuda_arch

    if not arch:
        found = local_cuda_arch()
        if found is None:
            raise UsageError(
                f"target {spec!r}: no NVIDIA GPU found here to take the arch from; name "
                "one, e.g. --target cuda:sm_90 (H100) or cuda:sm_80 (A100)"
            )
        arch = found
    normalized = arch.lower().replace("sm", "sm_").replace("sm__", "sm_")
    if normalized not in CUDA_ARCHS:
        hint = ""
        if normalized.rstrip("af") in CUDA_ARCHS:
            hint = f" (use {normalized.rstrip('af')}: the a/f variants are not supported)"
        raise UsageError(
            f"target {spec!r}: unknown CUDA arch {arch!r}{hint}; supported: {', '.join(CUDA_ARCHS)}"
        )
    return normalized
