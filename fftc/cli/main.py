"""The ``fftc`` command line: parser, logging, and error reporting.

Every failure a user can cause is printed as ``fftc: error: ...`` with exit
status 2 (bad usage or input) or 1 (compilation/verification failed); an
unexpected internal error is reported the same way, with the traceback only
under ``--verbose``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from fftc import __version__
from fftc.errors import FftcError


class Parser(argparse.ArgumentParser):
    """argparse that reports errors in fftc's format (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"fftc: error: {message}\n")
        raise SystemExit(2)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def build_parser() -> Parser:
    from fftc.cli import bench_cmd, commands, conformance_cmd, inspect_cmd, tune_cmd, verify_cmd

    parser = Parser(
        prog="fftc",
        description="fftc compiles ONNX models with long convolutions and FFT mixers into "
        "fused, optimized TVM modules.",
        epilog="Run 'fftc COMMAND --help' for a command's options and examples.",
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=f"fftc {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in (commands, verify_cmd, inspect_cmd, conformance_cmd, bench_cmd, tune_cmd):
        module.register(sub, _formatter)
    for command in sub.choices.values():  # -v/-q work after the command name too
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="debug logging")  # fmt: skip
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="no progress lines")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="fftc: %(levelname)s: %(name)s: %(message)s",
    )
    return run_reporting(lambda: int(args.handler(args) or 0), args.verbose)


def run_reporting(run: Callable[[], int], verbose: bool) -> int:
    """``run()``'s exit status, with every error reported as one ``fftc: error:`` line
    (an fftc bug too: as an internal error, with a traceback only when ``verbose``)."""
    try:
        return run()
    except FftcError as err:
        sys.stderr.write(f"fftc: error: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("fftc: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # an fftc bug: report it without a traceback unless asked
        if verbose:
            traceback.print_exc()
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        sys.stderr.write(
            f"fftc: error: internal error ({type(err).__name__}: {first}); "
            "rerun with --verbose for details\n"
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
