"""``fftc inspect``: the IR after any stage, decisions, or an artifact's manifest."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fftc.cli.common import (
    Formatter,
    add_model_options,
    check_new_file,
    compile_options,
    input_shapes,
    require_model_file,
)
from fftc.errors import UsageError

EXAMPLES = """\
examples:
  fftc inspect model.onnx                       # the fftc IR after import (stage 'ir')
  fftc inspect model.onnx --stage simplify      # after a graph pass
  fftc inspect model.onnx --stage tir           # scheduled TVM TIR
  fftc inspect model.onnx --target cuda:sm_90 --dtype fp16 --stage cuda   # CUDA source
  fftc inspect model.onnx --explain             # what was chosen per conv/DFT, and why
  fftc inspect model.onnx --list-stages
  fftc inspect model.fftc                       # an artifact's manifest and IR
"""


def register(sub: Any, formatter: Formatter) -> None:
    p = sub.add_parser(
        "inspect",
        help="print the IR after a compiler stage, or an artifact's manifest",
        description="Print a model's IR after any stage of the pipeline (large constants "
        "elided unless --full), the compiler's decisions (--explain), or the manifest of "
        "a compiled .fftc artifact.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    p.add_argument("model", nargs="?", help="an ONNX model, or a .fftc artifact")
    p.add_argument("--stage", default="ir", help="stage to print (default: ir)")
    p.add_argument("--list-stages", action="store_true",
                   help="list the stage names (with --target cuda:...: also 'cuda')")  # fmt: skip
    p.add_argument("--explain", action="store_true", help="print the compiler's decisions")
    p.add_argument("--full", action="store_true", help="print large constants too")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output")
    add_model_options(p)
    p.set_defaults(handler=cmd_inspect)


def cmd_inspect(args: argparse.Namespace) -> int:
    from fftc.api import inspect_stage, stage_names

    if args.list_stages:
        print("\n".join(stage_names(args.target)))
        return 0
    if args.model is None:
        raise UsageError("inspect needs a MODEL (an .onnx model or a .fftc artifact)")
    out = check_new_file(args.output, args.force) if args.output else None
    path = require_model_file(args.model)
    if path.suffix == ".fftc":
        text = _artifact_text(path)
    elif args.explain:
        text = _explain(args, path)
    else:
        options = compile_options(args)
        text = inspect_stage(
            path,
            args.stage,
            args.target,
            input_shapes(args),
            not args.full,
            args.allow_nonfinite_weights,
            options.pass_options,
            args.dtype,
            options.tuning_log,
            options.shipped_logs,
        )
    if out is not None:
        out.write_text(text)
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _artifact_text(path: Path) -> str:
    from fftc.runtime.artifact import GRAPH, read_manifest

    manifest, zf = read_manifest(path)
    with zf:
        graph = zf.read(GRAPH).decode() if GRAPH in zf.namelist() else ""
    return manifest.to_json() + ("\n" + graph if graph else "")


def _explain(args: argparse.Namespace, path: Path) -> str:
    import fftc

    module = fftc.compile(path, target=args.target, input_shapes=input_shapes(args),
                          allow_nonfinite=args.allow_nonfinite_weights,
                          options=compile_options(args))  # fmt: skip
    lines = [f"decisions for {path.name} on {module.target}:"]
    lines += [f"  {d}" for d in module.decisions] or ["  (none)"]
    return "\n".join(lines) + "\n"
