"""``fftc conformance``: ONNX's backend tests against fftc, reported per op."""

from __future__ import annotations

import argparse
from typing import Any

from fftc.cli.common import Formatter, check_new_file

EXAMPLES = """\
examples:
  fftc conformance                       # the required suites: Conv/ConvTranspose/DFT/STFT/
                                         # CausalConvWithState node tests, pytorch-converted
                                         # convolutions, and the light model zoo (~3 min)
  fftc conformance --all --json r.json   # every node test ONNX ships (~5 min)
  fftc conformance --pattern 'test_dft'  # one family
"""


def register(sub: Any, formatter: Formatter) -> None:
    p = sub.add_parser(
        "conformance",
        help="run ONNX's backend tests on fftc and report pass/fail/unsupported per op",
        description="Run ONNX's backend test cases (onnx.backend.test) with fftc as the "
        "backend (CPU) and print, per op, how many passed, failed, or were refused as "
        "unsupported, then every case that did not pass and why. Exits 1 when a case of "
        "the required suites did not pass.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    p.add_argument("--all", action="store_true", help="also every ONNX node test")
    p.add_argument("--pattern", metavar="REGEX", help="only tests whose names match")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON too")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    p.set_defaults(handler=cmd_conformance)


def cmd_conformance(args: argparse.Namespace) -> int:
    from fftc.backend.conformance import run_command

    json_path = str(check_new_file(args.json, args.force, "report")) if args.json else None
    return run_command(args.pattern, args.all, json_path)
