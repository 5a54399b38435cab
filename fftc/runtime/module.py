"""A compiled model, ready to run: ``m(x)``, ``m.run({"x": x})``, ``m.export(path)``.

The same class serves a model compiled in this process and one loaded from
an artifact with :func:`load` (which needs only TVM's runtime).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fftc.errors import ArtifactError, InputError
from fftc.runtime import tvm_runtime
from fftc.runtime.artifact import (
    GRAPH,
    check_compatible,
    extract_library,
    read_manifest,
    write_artifact,
)
from fftc.runtime.manifest import Manifest, TensorSpec


class Module:
    """A compiled fftc model."""

    def __init__(self, manifest: Manifest, library: Path, graph_text: str = "") -> None:
        self.manifest = manifest
        self.graph_text = graph_text
        #: what the compiler decided and why (``fftc inspect --explain``); empty when loaded
        self.decisions: list[str] = []
        # keep a private copy of the library so export() works after temp dirs are gone
        self._dir = tempfile.mkdtemp(prefix="fftc-module-")
        self._library = Path(shutil.copy(library, Path(self._dir) / "module.so"))
        self._dev: Any = None
        self._vm: Any = None
        # CUDA code is loaded on first use, so a model compiled (or an artifact inspected)
        # on a machine without a GPU is still a Module; running it says what is missing
        if manifest.target.get("kind", "llvm") != "cuda":
            self._load()

    def _load(self) -> Any:
        if self._vm is None:
            kind = str(self.manifest.target.get("kind", "llvm"))
            if kind == "cuda":
                _require_gpu(self.manifest)
            self._dev = tvm_runtime.device(kind)
            lib = tvm_runtime.load_library(str(self._library))
            self._vm = tvm_runtime.virtual_machine(lib, self._dev)
        return self._vm

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "_dir", ""), ignore_errors=True)

    # -- description -----------------------------------------------------------------
    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self.manifest.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.manifest.outputs

    @property
    def target(self) -> str:
        t = self.manifest.target
        return f"{t.get('kind')}:{t.get('arch')}"

    def __repr__(self) -> str:
        ins = ", ".join(s.describe() for s in self.inputs)
        outs = ", ".join(s.describe() for s in self.outputs)
        return f"<fftc.Module {self.manifest.model_name!r} ({ins}) -> ({outs}) on {self.target}>"

    # -- running ---------------------------------------------------------------------
    def _prepare(self, feeds: Mapping[str, Any]) -> tuple[list[Any], bool]:
        self._load()
        names = [s.name for s in self.inputs]
        missing = [n for n in names if n not in feeds]
        unknown = [n for n in feeds if n not in names]
        if missing or unknown:
            raise InputError(
                f"inputs do not match the model: missing {missing}, unknown {unknown}; "
                f"the model takes {', '.join(s.describe() for s in self.inputs)}"
            )
        args = []
        dlpack = False
        for spec in self.inputs:
            value = feeds[spec.name]
            if not isinstance(value, np.ndarray) and hasattr(value, "__dlpack__"):
                dlpack = True
                shape, dtype = tuple(value.shape), _dlpack_dtype(value)
            else:
                value = np.asarray(value)
                shape, dtype = value.shape, value.dtype.name
            if tuple(shape) != spec.shape or dtype != spec.dtype:
                raise InputError(
                    f"input {spec.name!r}: got {dtype}{list(shape)}, the model takes "
                    f"{spec.dtype}{list(spec.shape)}"
                )
            try:
                args.append(tvm_runtime.to_device(value, self._dev))
            except ValueError as err:
                raise InputError(f"input {spec.name!r}: {err}") from None
        return args, dlpack

    def run(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """Run on named inputs; returns outputs by name (NumPy, or the inputs' framework)."""
        args, dlpack = self._prepare(feeds)
        results = tvm_runtime.outputs_of(self._vm["main"](*args))
        framework = _framework_of(feeds.values()) if dlpack else None
        outs = {}
        for spec, r in zip(self.outputs, results, strict=True):
            outs[spec.name] = (
                framework.from_dlpack(r)
                if framework is not None
                else tvm_runtime.host_array(r, args)
            )
        return outs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``m(x)`` / ``m(x, y)`` / ``m(x=...)``: one output, or a tuple of outputs."""
        if len(args) > len(self.inputs):
            raise InputError(f"the model takes {len(self.inputs)} inputs, got {len(args)}")
        feeds = {s.name: a for s, a in zip(self.inputs, args, strict=False)}
        overlap = set(feeds) & set(kwargs)
        if overlap:
            raise InputError(f"inputs given twice: {sorted(overlap)}")
        feeds.update(kwargs)
        outs = list(self.run(feeds).values())
        return outs[0] if len(outs) == 1 else tuple(outs)

    def benchmark(
        self, feeds: Mapping[str, Any], number: int = 10, repeat: int = 5
    ) -> dict[str, float]:
        """Median / min / max milliseconds per run (inputs already on the device)."""
        args, _ = self._prepare(feeds)
        times = tvm_runtime.time_function(self._vm, self._dev, args, number, repeat)
        ms = [t * 1e3 for t in times]
        return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms)}

    # -- saving ------------------------------------------------------------------------
    def export(self, path: str | os.PathLike[str], force: bool = False) -> Path:
        """Write the artifact (one ``.fftc`` file); never overwrites unless ``force``."""
        return write_artifact(path, self._library, self.manifest, self.graph_text, force)


def load(path: str | os.PathLike[str]) -> Module:
    """Load an artifact written by :meth:`Module.export` (needs only TVM's runtime)."""
    where = str(path)
    manifest, zf = read_manifest(path)
    with zf, tempfile.TemporaryDirectory(prefix="fftc-load-") as tmp:
        check_compatible(manifest, where)
        lib = extract_library(zf, manifest, where, Path(tmp))
        graph = zf.read(GRAPH).decode() if GRAPH in zf.namelist() else ""
        return Module(manifest, lib, graph)


def _require_gpu(manifest: Manifest) -> None:
    """Refuse, with what is missing, to run CUDA code where it cannot run."""
    arch = str(manifest.target.get("arch", "?"))
    what = f"{manifest.model_name or 'this model'} was compiled for CUDA {arch}"
    problem = tvm_runtime.cuda_runtime_error()
    if problem is not None:
        raise ArtifactError(
            f"{what} and needs an NVIDIA GPU to run: {problem}. Run it on a GPU machine, or "
            "compile it for this CPU with --target llvm"
        )
    have = tvm_runtime.cuda_compute_capability()
    digits = arch.removeprefix("sm_")
    if digits.isdigit() and have < (int(digits[:-1]), int(digits[-1])):
        raise ArtifactError(
            f"{what}; this GPU is sm_{have[0]}{have[1]}. Recompile with "
            f"--target cuda:sm_{have[0]}{have[1]}"
        )


def _dlpack_dtype(value: Any) -> str:
    dtype = str(getattr(value, "dtype", ""))
    return dtype.rsplit(".", 1)[-1]  # torch.float32 -> float32


def _framework_of(values: Sequence[Any] | Any) -> Any:
    for v in values:
        if not isinstance(v, np.ndarray) and hasattr(v, "__dlpack__"):
            module = sys.modules.get(type(v).__module__.split(".")[0])
            if module is not None and hasattr(module, "from_dlpack"):
                return module
    return None
