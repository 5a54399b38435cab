"""``fftc compile`` and ``fftc run``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fftc.cli.common import (
    Formatter,
    add_model_options,
    check_new_file,
    compile_options,
    fmt_array,
    input_shapes,
    load_npz,
    progress_printer,
    require_model_file,
    save_npz,
)

COMPILE_EXAMPLES = """\
examples:
  fftc compile model.onnx -o model.fftc
  fftc compile model.onnx -o model.fftc --target llvm:znver4
  fftc compile hyena_dynamic.onnx -o hyena.fftc --input-shape u=1,1024,64
"""

RUN_EXAMPLES = """\
examples:
  fftc run model.fftc --random                     # random inputs, prints output summaries
  fftc run model.fftc --inputs in.npz --out out.npz
  fftc run model.fftc --random --benchmark 20      # median latency over 20 runs
"""


def register(sub: Any, formatter: Formatter) -> None:
    p = sub.add_parser(
        "compile",
        help="compile an ONNX model into a deployable .fftc artifact",
        description="Compile an ONNX model for a target and write the artifact "
        "(library + manifest) to one file.",
        epilog=COMPILE_EXAMPLES,
        formatter_class=formatter,
    )
    p.add_argument("model", help="the ONNX model (.onnx)")
    p.add_argument("-o", "--output", required=True, help="artifact to write (.fftc)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    add_model_options(p)
    p.set_defaults(handler=cmd_compile)

    r = sub.add_parser(
        "run",
        help="run a compiled artifact on inputs from a .npz file or random inputs",
        description="Load a .fftc artifact (TVM runtime only) and run it.",
        epilog=RUN_EXAMPLES,
        formatter_class=formatter,
    )
    r.add_argument("artifact", help="the compiled artifact (.fftc)")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--inputs", metavar="IN.npz", help="inputs by name in a .npz file")
    src.add_argument("--random", action="store_true", help="random inputs (seeded)")
    r.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    r.add_argument("--out", metavar="OUT.npz", help="write the outputs to a .npz file")
    r.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    r.add_argument("--benchmark", type=int, metavar="N", help="also time N runs (median)")
    r.set_defaults(handler=cmd_run)


def cmd_compile(args: argparse.Namespace) -> int:
    import fftc

    model = require_model_file(args.model)
    out = check_new_file(args.output, args.force, "artifact")
    module = fftc.compile(
        model,
        target=args.target,
        input_shapes=input_shapes(args),
        allow_nonfinite=args.allow_nonfinite_weights,
        options=compile_options(args),
        progress=progress_printer(args, model.name),
    )
    module.export(out, force=args.force)
    if not args.quiet:
        print(f"wrote {out} ({out.stat().st_size} bytes) for {module.target}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    import fftc

    out_path = check_new_file(args.out, args.force, "outputs") if args.out else None
    module = fftc.load(args.artifact)
    if args.random:
        rng = np.random.default_rng(args.seed)
        feeds = {
            s.name: (
                rng.standard_normal(s.shape) if "float" in s.dtype else rng.integers(0, 8, s.shape)
            ).astype(s.dtype)
            for s in module.inputs
        }
    else:
        feeds = load_npz(args.inputs)
    outs = module.run(feeds)
    for name, value in outs.items():
        arr = np.asarray(value)
        stats = ""
        if arr.size and arr.dtype.kind == "f":
            stats = f"  mean {arr.mean():.4g}  std {arr.std():.4g}  max|x| {np.abs(arr).max():.4g}"
        print(f"{name}: {fmt_array(arr)}{stats}")
    if args.benchmark:
        t = module.benchmark(feeds, number=1, repeat=max(args.benchmark, 1))
        print(
            f"latency: median {t['median_ms']:.3f} ms (min {t['min_ms']:.3f}, "
            f"{args.benchmark} runs)"
        )
    if out_path is not None:
        save_npz(out_path, outs)
        print(f"wrote {out_path}", file=sys.stderr)
    return 0
