"""Export a case to ONNX (PyTorch's dynamo exporter, opset 20) and cache the file.

The recipe is ``examples/export.py``'s: export with ``optimize=False``, then onnxscript's
optimizer with folded constants limited to 1024 elements and DFT never folded (so
``rfft(k)`` of a constant filter stays a DFT in the graph at every size, for fftc to fold
at compile time), then its ONNX fusions; per-node stack traces are dropped.  Files are
cached under ``cache_dir`` keyed by suite, case and a digest of the weights and the
recipe, and written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fftc.bench.suites import Problem

OPSET = 20
#: bump when the models or the export recipe change (invalidates cached files)
RECIPE_VERSION = 2
FOLDED_SIZE_LIMIT = 1024
OUTPUT_NAME = "y"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fftc" / "bench"


def cache_path(problem: Problem, cache_dir: Path) -> Path:
    digest = hashlib.sha256(f"{RECIPE_VERSION}/{OPSET}/{problem.case.params}".encode())
    for name in sorted(problem.weights):
        digest.update(name.encode())
        digest.update(problem.weights[name].tobytes())
    slug = re.sub(r"[^A-Za-z0-9]+", "_", problem.case.name).strip("_")
    return cache_dir / f"{problem.case.suite}-{slug}-{digest.hexdigest()[:12]}.onnx"


Exporter = Callable[[Problem, Path], None]


def cached_model(
    problem: Problem, cache_dir: Path, export: Exporter | None = None
) -> tuple[Path, bool]:
    """The case's ONNX file, exported (by ``export``, default :func:`export_onnx`) unless
    cached; returns (path, was_cached)."""
    path = cache_path(problem, cache_dir)
    if path.is_file():
        return path, True
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.onnx")
    try:
        (export or export_onnx)(problem, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, False


def export_onnx(problem: Problem, path: Path) -> None:
    """Export the case's PyTorch module to ``path`` (one file, no external data)."""
    import torch

    from fftc.bench.torch_models import build_module

    args = tuple(torch.from_numpy(a) for a in problem.inputs.values())
    export_module(build_module(problem), args, list(problem.inputs), path)


def export_module(
    module: Any,
    args: tuple[Any, ...],
    input_names: Sequence[str],
    path: Path,
    dynamic_shapes: Any = None,
) -> None:
    """Export ``module`` called on ``args`` with the recipe above; ``dynamic_shapes`` as
    ``torch.export`` takes it (dims left symbolic in the ONNX file)."""
    import onnxscript.optimizer
    import onnxscript.rewriter.onnx_fusions
    import torch

    # the exporter's known noise: "torchvision is not installed", pytree deprecations
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            opset_version=OPSET,
            input_names=list(input_names),
            output_names=[OUTPUT_NAME],
            optimize=False,
            verbose=False,
            dynamic_shapes=dynamic_shapes,
        )
    onnxscript.optimizer.optimize_ir(
        program.model, output_size_limit=FOLDED_SIZE_LIMIT, should_fold=_keep_dft
    )
    onnxscript.rewriter.onnx_fusions.fuse(program.model)
    _drop_stack_traces(program.model)
    program.save(path, external_data=False)


def _keep_dft(node: Any) -> bool | None:
    """Constant-folding policy: never fold DFT, default rules for everything else."""
    return False if node.op_type == "DFT" else None


def _drop_stack_traces(model: Any) -> None:
    """Per-node stack traces hold the exporting machine's paths; files stay reproducible."""
    import onnx_ir

    for node in onnx_ir.traversal.RecursiveGraphIterator(model.graph):
        node.metadata_props.pop("pkg.torch.onnx.stack_trace", None)
