"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fftc.errors import UsageError

if TYPE_CHECKING:
    from fftc.api import CompileOptions

Formatter = Callable[[str], argparse.HelpFormatter]


def add_model_options(p: argparse.ArgumentParser, tuning_log: bool = True) -> None:
    if tuning_log:
        p.add_argument(
            "--tuning-log",
            metavar="DIR",
            help="apply the schedules of a tuning log written by 'fftc tune' (functions it "
            "lacks get the default schedules; a log for another target is refused); "
            "without it, the shipped logs in tuning_logs/ for this target apply",
        )
        p.add_argument(
            "--no-shipped-logs",
            action="store_true",
            help="do not apply the shipped tuning logs (tuning_logs/, or $FFTC_TUNING_LOGS)",
        )
    p.add_argument(
        "--target",
        default="llvm",
        help="llvm (this CPU, default), llvm:<cpu name> (e.g. llvm:znver4), or "
        "cuda:<arch> (e.g. cuda:sm_90, cuda:sm_80; 'cuda' alone: this machine's GPU); "
        "cuda cross-compiles without a GPU but needs nvcc",
    )
    p.add_argument(
        "--dtype",
        choices=("fp32", "fp16", "bf16"),
        default="fp32",
        help="compute precision for cuda targets: fp32 (default), or fp16/bf16 matmuls "
        "with fp32 accumulation (inputs and outputs keep the model's dtypes)",
    )
    p.add_argument(
        "--allow-nonfinite-weights",
        action="store_true",
        help="accept NaN/Inf in weights (refused by default, e.g. for -inf masks)",
    )
    p.add_argument(
        "--conv-fft",
        choices=("auto", "always", "never"),
        default="auto",
        help="FFT convolutions: chosen by the cost model (auto, default), for every "
        "eligible convolution (always), or none (never)",
    )
    p.add_argument(
        "--freq-sparsity",
        default="0",
        metavar="R",
        help="zero the fraction R (0 <= R < 1) of least-energy frequency blocks of every "
        "constant FFT-convolution spectrum and skip them (an approximation: a warning "
        "reports the estimated output error; default 0: only blocks already zero)",
    )
    from fftc.kernels.fft.plan import MAX_RADIX

    p.add_argument(
        "--fft-max-radix",
        type=int,
        choices=MAX_RADIX.choices,
        metavar="R",
        help=f"largest factor of an FFT's stages (one of {', '.join(map(str, MAX_RADIX.choices))}; "
        "default per target: 4 on CPUs, 32 on CUDA; see 'fftc inspect --explain')",
    )
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D1,D2,...",
        help="pin the shape of an input with symbolic dims (repeatable)",
    )


def compile_options(args: argparse.Namespace) -> CompileOptions:
    """The CompileOptions the shared model options ask for."""
    from fftc.api import CompileOptions

    return CompileOptions(
        pass_options={
            "conv_fft": args.conv_fft,
            "freq_sparsity": _freq_sparsity(args),
            **(
                {"fft_max_radix": args.fft_max_radix}
                if getattr(args, "fft_max_radix", None)
                else {}
            ),
        },
        tuning_log=getattr(args, "tuning_log", None),
        shipped_logs=not getattr(args, "no_shipped_logs", False),
        dtype=getattr(args, "dtype", "fp32"),
    )


def _freq_sparsity(args: argparse.Namespace) -> float:
    """``--freq-sparsity``, checked (``fftc: error: --freq-sparsity: ...``)."""
    from fftc.passes.sparsity import freq_sparsity

    return freq_sparsity({"freq_sparsity": getattr(args, "freq_sparsity", "0")})


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    from fftc.frontend.onnx.loader import parse_shape_spec

    return parse_shape_spec(args.input_shape)


def progress_printer(args: argparse.Namespace, label: str) -> Callable[[str, float], None]:
    """Prints one line per finished compile step to stderr (unless --quiet)."""

    def report(step: str, seconds: float) -> None:
        if not args.quiet:
            sys.stderr.write(f"fftc: {label}: {step:8s} {seconds:7.2f} s\n")
            sys.stderr.flush()

    return report


def require_model_file(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    if p.is_dir():
        raise UsageError(f"{path}: is a directory, not an ONNX model")
    return p


def check_new_file(path: str, force: bool, what: str = "output") -> Path:
    """An output path that may be written: not a directory, not existing unless --force."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: is a directory; give a file name for the {what}")
    if p.exists() and not force:
        raise UsageError(f"{path}: already exists; pass --force to overwrite it")
    if not p.parent.exists():
        raise UsageError(f"{p.parent}: no such directory")
    return p


def load_npz(path: str) -> dict[str, np.ndarray]:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as err:
        raise UsageError(f"{path}: not a readable .npz file ({err})") from None


def save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write atomically (a partial file never appears under ``path``)."""
    tmp = path.with_name(f".{path.name}.tmp.npz")
    try:
        data: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
        np.savez(tmp, **data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def fmt_array(a: np.ndarray) -> str:
    return f"{a.dtype}[{', '.join(str(d) for d in a.shape)}]"
