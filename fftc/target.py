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
    """Parse ``llvm`` / ``cpu`` / ``llvm:<mcpu>`` (``cuda`` arrives with the CUDA backend)."""
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
        raise UsageError(
            f"target {spec!r}: the CUDA backend is not available in this version of fftc "
            "(use --target llvm)"
        )
    raise UsageError(f"unknown target {spec!r}; use 'llvm' (this CPU) or 'llvm:<cpu name>'")
