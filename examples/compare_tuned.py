"""Compare a model's default build with its tuned build, in one fresh process.

    python examples/compare_tuned.py examples/onnx/hyena_block.onnx \
        tuning_logs/hyena_block-llvm-znver5

Both builds are compiled from the ONNX file (the default one without any
tuning log, shipped ones included), warmed up, checked to give the same
outputs, and timed in alternating rounds of 20 calls (median per call), so
that the machine's drifts fall on both.
"""

from __future__ import annotations

import argparse

import numpy as np

import fftc
from fftc.api import CompileOptions
from fftc.target import parse_target
from fftc.testing import random_inputs
from fftc.tune.report import interleaved_medians


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("log", help="tuning log directory written by fftc tune")
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args()
    spec = parse_target("llvm")
    feeds = random_inputs(args.model, 0, {})
    default = fftc.compile(args.model, spec, options=CompileOptions(shipped_logs=False))
    tuned = fftc.compile(args.model, spec, options=CompileOptions(tuning_log=args.log))
    for name, value in default.run(feeds).items():
        a, b = np.asarray(value), np.asarray(tuned.run(feeds)[name])
        assert np.abs(a - b).max() <= 1e-4 * max(float(np.abs(a).max()), 1e-30), name
    t_default, t_tuned = interleaved_medians(default, tuned, feeds, args.rounds)
    print(f"{args.model}: default {t_default:.4f} ms, tuned {t_tuned:.4f} ms, "
          f"{t_default / t_tuned:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
