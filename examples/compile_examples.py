"""Compile the headline examples with fftc's Python API, deploy and check them.

Usage: python examples/compile_examples.py [--target llvm] [--out DIR] [--rtol 1e-4]

For every examples/onnx/<name>.onnx: `fftc.compile` it, `export` the artifact to
DIR/<name>.fftc, `fftc.load` it back (as a deployment would, with only the TVM
runtime), run it on seeded random inputs and compare every output with
onnxruntime's. Exits non-zero if any example fails.  (`fftc verify
examples/onnx/*.onnx` does the same from the command line.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import fftc
from fftc.testing import compare, random_inputs, run_onnxruntime

ONNX_DIR = Path(__file__).resolve().parent / "onnx"


def check_example(path: Path, target: str, out_dir: Path, rtol: float) -> bool:
    """Compile, export, load and verify one model; prints one line, True if it passes."""
    start = time.perf_counter()
    module = fftc.compile(path, target=target)
    seconds = time.perf_counter() - start
    deployed = fftc.load(module.export(out_dir / f"{path.stem}.fftc", force=True))
    inputs = random_inputs(path, seed=0)
    expected = run_onnxruntime(path, inputs)
    actual = deployed.run(inputs)
    results = [compare(name, actual[name], want, rtol) for name, want in expected.items()]
    worst = max(r.max_rel for r in results)
    passed = all(r.ok for r in results)
    timing = deployed.benchmark(inputs)["median_ms"]
    print(f"{path.stem:16s} compile {seconds:5.1f} s  run {timing:8.3f} ms  "
          f"rel err {worst:.2e}  {'ok' if passed else 'FAIL'}", flush=True)  # fmt: skip
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="llvm", help="fftc target (default: llvm)")
    parser.add_argument("--out", type=Path, help="where to write the .fftc files (temp dir)")
    parser.add_argument("--rtol", type=float, default=1e-4, help="tolerance (default 1e-4)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        results = [
            check_example(p, args.target, out_dir, args.rtol)
            for p in sorted(ONNX_DIR.glob("*.onnx"))
        ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
