"""``fftc verify``: compile, run on random inputs, compare with onnxruntime."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from fftc.cli.common import (
    Formatter,
    add_model_options,
    compile_options,
    input_shapes,
    load_npz,
    progress_printer,
    require_model_file,
)
from fftc.errors import FftcError, VerificationError

#: model, output, shape, max abs error, max relative error, passed, note
Row = tuple[str, str, str, float, float, bool, str]

EXAMPLES = """\
examples:
  fftc verify model.onnx
  fftc verify examples/onnx/*.onnx                 # several models, one summary
  fftc verify model.onnx --rtol 1e-5 --seed 3

tolerance: an output passes when max|fftc - onnxruntime| <= RTOL * max|onnxruntime|
(the error relative to the output's scale; default RTOL 1e-4 for fp32).
Models onnxruntime cannot run (e.g. opsets newer than it knows) are compared with
ONNX's own reference evaluator instead; the summary says so.
"""


def register(sub: Any, formatter: Formatter) -> None:
    p = sub.add_parser(
        "verify",
        help="compile a model and compare its outputs with onnxruntime",
        description="Compile each model, run it and onnxruntime (or, where onnxruntime "
        "cannot run the model, ONNX's reference evaluator) on the same random inputs, "
        "and print the max absolute and relative error of every output.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="ONNX model(s)")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (1e-4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (0)")
    p.add_argument("--inputs", metavar="IN.npz", help="use these inputs instead of random ones")
    p.add_argument("--benchmark", action="store_true", help="also time fftc and onnxruntime")
    add_model_options(p)
    p.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    if args.rtol <= 0:
        raise FftcError("--rtol must be positive")
    compile_options(args)  # a bad option is a usage error, not a failure of every model
    rows: list[Row] = []
    for path in args.models:
        try:
            rows += _verify_one(args, path)
        except FftcError as err:
            rows.append((path, "-", "-", float("nan"), float("nan"), False, str(err)))
    _print_table(rows, args.rtol)
    failures = sum(not row[5] for row in rows)
    if failures:
        raise VerificationError(f"{failures} of {len(rows)} outputs failed verification")
    return 0


def _verify_one(args: argparse.Namespace, path: str) -> list[Row]:
    import numpy as np

    import fftc
    from fftc.testing import compare, random_inputs, reference_outputs

    model = require_model_file(path)
    shapes = input_shapes(args)
    feeds = load_npz(args.inputs) if args.inputs else random_inputs(model, args.seed, shapes)
    t0 = time.perf_counter()
    module = fftc.compile(
        model,
        target=args.target,
        input_shapes=shapes,
        allow_nonfinite=args.allow_nonfinite_weights,
        options=compile_options(args),
        progress=progress_printer(args, model.name),
    )
    compile_s = time.perf_counter() - t0
    ours = module.run(feeds)
    ref, reference = reference_outputs(model, feeds)
    note = f"compiled in {compile_s:.1f} s"
    if reference != "onnxruntime":
        note += f"; compared with {reference} (onnxruntime cannot run this model)"
    if args.benchmark and reference == "onnxruntime":  # both timed as a Python call
        import onnxruntime as ort

        sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        t_fftc = _median_ms(lambda: module.run(feeds))
        t_ort = _median_ms(lambda: sess.run(None, feeds))
        note += f"; fftc {t_fftc:.3f} ms, onnxruntime {t_ort:.3f} ms (median of 20 calls)"
    rows = []
    for name, expected in ref.items():
        c = compare(name, np.asarray(ours[name]), expected, args.rtol)
        shape = "x".join(str(d) for d in np.shape(expected))
        rows.append((model.name, name, shape, c.max_abs, c.max_rel, c.ok, note))
    return rows


def _median_ms(call: Callable[[], object], runs: int = 20) -> float:
    call()  # warm up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _print_table(rows: list[Row], rtol: float) -> None:
    head = ("model", "output", "shape", "max abs err", "max rel err", "result")
    table = [head] + [
        (m, o, s, f"{a:.3e}", f"{r:.3e}", "PASS" if ok else "FAIL") for m, o, s, a, r, ok, _ in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    passed = sum(ok for *_, ok, _ in rows)
    print(
        f"\n{passed} passed, {len(rows) - passed} failed (rtol {rtol:g}: "
        "max|fftc - onnxruntime| <= rtol * max|onnxruntime|)"
    )
    for m, _, _, _, _, ok, note in rows:
        if note and not ok:
            print(f"  {m}: {note}")
    notes = {m: note for m, *_, ok, note in rows if ok and note}
    for m, note in notes.items():
        print(f"  {m}: {note}")
