"""Export the fftc example models to ONNX and check each export against PyTorch.

Usage: python examples/export.py [--out DIR] [--only NAME ...]

Writes DIR/onnx/<name>.onnx (headline examples) and DIR/zoo/<family>.onnx (one model per
family); DIR defaults to this folder. Every file is run with onnxruntime and compared with
the eager PyTorch output: max |ort - torch| / max |torch| must be <= 1e-4.

Export goes through the dynamo exporter (the only one that handles torch.fft) at opset 20.
It is run with `optimize=False`, and the exporter's own optimizer (onnxscript) is then applied
with two changes: Sin/Cos/Exp/MatMul/Gemm nodes are never constant-folded, and a folded
constant larger than 1024 elements is only kept if it does not grow the file. Otherwise the
folder evaluates parameter-only subgraphs (Hyena's implicit filter, H3's SSM kernels) whose
inputs are under its size limit and stores their (larger) results as initializers.
Afterwards the shapes of irfft's DFT with a symbolic length are corrected (see
`_fix_inverse_dft_shapes`) and per-node stack traces are removed, so files are reproducible.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx_ir
import onnxruntime
import onnxscript.optimizer
import onnxscript.rewriter.onnx_fusions
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from examples.models import EXAMPLES, ExampleSpec

OPSET = 20
RELATIVE_TOLERANCE = 1e-4
UNFOLDED_OPS = frozenset({"Sin", "Cos", "Exp", "MatMul", "Gemm"})
FOLDED_GROWTH_LIMIT = 1024  # no folded constant over this many elements may grow the file


@dataclass(frozen=True)
class ExportResult:
    """What `export_and_check` did for one example."""

    path: Path
    seconds: float
    relative_errors: tuple[float, ...]


def _keep_parameter_subgraphs(node: Any) -> bool | None:
    """Constant-folding policy: never fold UNFOLDED_OPS, default rules for the rest."""
    return False if node.op_type in UNFOLDED_OPS else None


def _fix_inverse_dft_shapes(model: Any) -> None:
    """Correct the annotated shape of irfft's DFT when its length is not a constant.

    irfft exports as DFT(inverse=1, onesided=1) -> Slice -> Squeeze. With a symbolic length
    ONNX shape inference gives the DFT output the input's length `n/2 + 1` instead of `n`;
    onnxruntime plans its buffers from that label and fails. The Squeeze output carries the
    right shape (from torch), so the DFT and Slice outputs get that shape plus a trailing 1;
    anything else loses its annotation.
    """
    for node in model.graph:
        if node.op_type != "DFT" or node.attributes.get_int("inverse", 0) != 1:
            continue
        if node.attributes.get_int("onesided", 0) != 1 or _is_constant(node.inputs[1]):
            continue
        chain = [node.outputs[0]]
        chain += [user.outputs[0] for user in chain[0].consumers() if user.op_type == "Slice"]
        squeezes = [user for user in chain[-1].consumers() if user.op_type == "Squeeze"]
        known = squeezes[0].outputs[0].shape if len(squeezes) == 1 else None
        for value in chain:
            value.shape = None if known is None else onnx_ir.Shape([*known, 1])


def _is_constant(value: Any) -> bool:
    return value is None or value.const_value is not None


def _drop_stack_traces(model: Any) -> None:
    """Remove the per-node Python stack traces (absolute paths of the exporting machine).

    The module path (`namespace`, `pkg.torch.onnx.name_scopes`, `class_hierarchy`) stays, so a
    node can still be traced back to the PyTorch module that produced it.
    """
    for node in onnx_ir.traversal.RecursiveGraphIterator(model.graph):
        node.metadata_props.pop("pkg.torch.onnx.stack_trace", None)


def export_onnx(spec: ExampleSpec, module: Any, path: Path) -> None:
    """Export `module` at `spec`'s example inputs to `path` (one file, no external data)."""
    program = torch.onnx.export(
        module,
        spec.inputs(),
        dynamo=True,
        opset_version=OPSET,
        input_names=list(spec.input_names),
        output_names=list(spec.output_names),
        dynamic_shapes=spec.dynamic_shapes,
        optimize=False,
        verbose=False,
    )
    onnxscript.optimizer.optimize_ir(
        program.model,
        output_size_limit=FOLDED_GROWTH_LIMIT,
        should_fold=_keep_parameter_subgraphs,
    )
    onnxscript.rewriter.onnx_fusions.fuse(program.model)
    _fix_inverse_dft_shapes(program.model)
    _drop_stack_traces(program.model)
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(path, external_data=False)


def relative_error(module: Any, path: Path, inputs: tuple[Any, ...]) -> float:
    """max |onnxruntime - torch| / max |torch| over all outputs of the model at `inputs`."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {
        meta.name: tensor.numpy() for meta, tensor in zip(session.get_inputs(), inputs, strict=True)
    }
    actual = session.run(None, feeds)
    with torch.no_grad():
        expected = module(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    worst = 0.0
    for got, want in zip(actual, expected, strict=True):
        want_np = want.numpy()
        if got.shape != want_np.shape:
            raise AssertionError(f"{path.name}: shape {got.shape} != torch {want_np.shape}")
        scale = float(np.abs(want_np).max())
        worst = max(worst, float(np.abs(got - want_np).max()) / max(scale, 1e-30))
    return worst


def export_and_check(spec: ExampleSpec, out_dir: Path) -> ExportResult:
    """Export one example, then check it at its example inputs (and any extra shapes)."""
    module = spec.build()
    path = out_dir / spec.group / f"{spec.name}.onnx"
    start = time.perf_counter()
    export_onnx(spec, module, path)
    seconds = time.perf_counter() - start
    onnx.checker.check_model(str(path), full_check=True)
    shape_sets = (spec.input_shapes, *spec.extra_input_shapes)
    errors = tuple(relative_error(module, path, spec.inputs(shapes)) for shapes in shape_sets)
    for shapes, error in zip(shape_sets, errors, strict=True):
        if error > RELATIVE_TOLERANCE:
            raise AssertionError(f"{spec.name} at {shapes}: relative error {error:.2e}")
    return ExportResult(path=path, seconds=seconds, relative_errors=errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent, help="output root"
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="export only these examples")
    args = parser.parse_args(argv)

    known = {spec.name for spec in EXAMPLES}
    unknown = sorted(set(args.only or ()) - known)
    if unknown:
        parser.error(f"unknown example(s) {unknown}; known: {sorted(known)}")
    selected = [spec for spec in EXAMPLES if not args.only or spec.name in args.only]

    # Quiet known noise: "torchvision is not installed" and a pytree deprecation warning.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)

    for spec in selected:
        result = export_and_check(spec, args.out)
        size_kib = result.path.stat().st_size / 1024
        errors = ", ".join(f"{error:.2e}" for error in result.relative_errors)
        print(
            f"{spec.group}/{spec.name}.onnx  {size_kib:8.1f} KiB  export {result.seconds:5.1f} s"
            f"  max rel err {errors}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
