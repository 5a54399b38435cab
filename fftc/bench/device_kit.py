"""``python -m fftc.bench.device_kit build KIT_DIR``: everything a GPU machine without
TVM needs to time fftc against PyTorch, in one folder of at most 60 MiB.

The kit holds

* ``artifacts/L<L>-<dtype>.fftc``: FlashFFTConv's gated convolution at B=64, H=768
  compiled by fftc for ``cuda:<arch>`` (one per length and dtype; real fatbins, built
  here with nvcc; see :mod:`fftc.bench.device_kit_model`), and ``D.npy``, the model's
  constant skip weights;
* ``python/``: a runtime-only TVM for the device's Python
  (:mod:`fftc.bench.device_kit_runtime`), with ``libcudart`` beside TVM's CUDA runtime;
* ``run_kit.py`` (:mod:`fftc.bench.kit_runner`, with :mod:`fftc.bench.kit_report` as
  ``kit_report.py``): runs on the device with NumPy, PyTorch and the kit's TVM only,
  checks numerics, times fftc and cuFFT, writes JSON + a table;
* ``kit.json`` (the index: artifacts, versions, FlashFFTConv's times, bandwidths and
  tolerances for the runner) and ``README.txt`` (the device command).

The kit is built in a sibling folder and moved into place when complete, so a failed
build leaves an existing kit as it was.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fftc.bench.device_kit_model import (
    STAGED,
    BuiltArtifact,
    KitCase,
    build_artifact,
    fused_monarch,
    on_monarch,
)
from fftc.bench.device_kit_runtime import (
    RuntimeInfo,
    assemble_runtime,
    check_python_version,
    folder_bytes,
    installed_version,
)
from fftc.errors import FftcError, UsageError

#: the device tool carries at most 64 MiB per call (the working tree included)
MAX_KIT_BYTES = 60 << 20
DEFAULT_SIZES = (1024, 4096, 8192, 16384, 32768)
DTYPES = ("fp16", "bf16", "fp32")
KIT_FORMAT = "fftc-device-kit"
KIT_FORMAT_VERSION = 1
#: the device-side scripts: source in this folder -> name in the kit
SCRIPTS = {"kit_runner.py": "run_kit.py", "kit_report.py": "kit_report.py"}
PROG = "python -m fftc.bench.device_kit"
MODEL_TEXT = "y = (irfft(rfft(u*pre, 2L) * K)[..., :L] + D*u) * post"


@dataclass(frozen=True)
class KitSpec:
    """What a kit is built for."""

    target: str
    sizes: tuple[int, ...]
    dtypes: tuple[str, ...]
    batch: int
    heads: int
    python: str
    #: also build the staged variant of fused Monarch cases (see :meth:`cases`)
    staged: bool = True

    @property
    def cuda(self) -> bool:
        return self.target.startswith("cuda")

    def cases(self) -> list[KitCase]:
        """Per length and dtype the default build, and on CUDA also the staged one
        (``fused=False``: one kernel per Monarch stage, 9 or 13), so the device times
        what fusion gains (one kernel for N = 2L <= 4096, three beyond)."""
        cases = []
        for n in self.sizes:
            for dt in self.dtypes:
                cases.append(KitCase(n, dt, self.batch, self.heads))
                if self.cuda and self.staged:
                    cases.append(KitCase(n, dt, self.batch, self.heads, STAGED))
        return cases


# -- arguments -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from fftc.cli.main import Parser

    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0].replace("``", "'"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    b = sub.add_parser("build", help="build a kit", description="Build a device kit in KIT_DIR.")
    b.add_argument("kit_dir", metavar="KIT_DIR", help="the kit's folder (e.g. device_kit)")
    b.add_argument("--arch", default="sm_90", help="CUDA arch of the device (sm_90: H100/H200)")
    b.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                   help="sequence lengths L, comma separated (default: %(default)s)")  # fmt: skip
    b.add_argument(
        "--dtypes", default="fp16,bf16", help="of fp16, bf16, fp32 (default: %(default)s)"
    )
    b.add_argument("--batch", default="64", help="B (default: 64)")
    b.add_argument("--heads", default="768", help="H (default: 768)")
    b.add_argument("--python", default="3.12", help="the device's Python (default: 3.12)")
    b.add_argument("--force", action="store_true", help="replace an existing kit in KIT_DIR")
    b.add_argument("--no-staged", dest="staged", action="store_false",
                   help="build L <= 2048 fused only (default: also staged)")  # fmt: skip
    b.add_argument("--cache-dir", help="ONNX export cache (default: ~/.cache/fftc/bench)")
    b.add_argument("--wheel-dir", help="wheel cache (default: ~/.cache/fftc/wheels)")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    b.add_argument("-v", "--verbose", action="store_true", help="tracebacks of internal errors")
    # test-only: llvm kits (CPU artifacts) run on the host's PyTorch CPU
    b.add_argument("--target", choices=("cuda", "llvm"), default="cuda", help=argparse.SUPPRESS)
    return parser


def _int_list(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r}: give positive integers, comma separated") from None
    if not values or min(values) <= 0:
        raise UsageError(f"{what} {text!r}: give positive integers, comma separated")
    return tuple(dict.fromkeys(values))


def _positive(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise UsageError(f"{what} {text!r}: give one positive integer")
    return value


def kit_spec(args: argparse.Namespace) -> KitSpec:
    """The checked arguments (each bad one is a :class:`UsageError`)."""
    from fftc.target import parse_target

    sizes = _int_list(args.sizes, "--sizes")
    odd = [n for n in sizes if n < 16 or n & (n - 1)]
    if odd:
        raise UsageError(f"--sizes: {odd[0]} is not a power of two of at least 16")
    dtypes = tuple(dict.fromkeys(d.strip() for d in args.dtypes.split(",") if d.strip()))
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown or not dtypes:
        raise UsageError(f"--dtypes {args.dtypes!r}: use some of {', '.join(DTYPES)}")
    target = "llvm" if args.target == "llvm" else str(parse_target(f"cuda:{args.arch}"))
    batch, heads = _positive(args.batch, "--batch"), _positive(args.heads, "--heads")
    python = check_python_version(args.python)
    return KitSpec(target, sizes, dtypes, batch, heads, python, args.staged)


def check_destination(kit_dir: Path, force: bool) -> None:
    """Refuse to replace anything but an earlier kit, and that only with ``--force``."""
    if kit_dir.exists() and not kit_dir.is_dir():
        raise UsageError(f"{kit_dir}: exists and is not a folder")
    if not kit_dir.parent.is_dir():
        raise UsageError(f"{kit_dir.parent}: no such folder")
    if kit_dir.is_dir() and any(kit_dir.iterdir()):
        if not (kit_dir / "kit.json").is_file():
            raise UsageError(f"{kit_dir}: a folder that is not a device kit; not replacing it")
        if not force:
            raise UsageError(f"{kit_dir}: a kit exists there; pass --force to replace it")


# -- building --------------------------------------------------------------------------------


def build_kit(kit_dir: Path, spec: KitSpec, cache_dir: Path, wheel_dir: Path, say: Any) -> int:
    """Build the kit into a staging folder beside ``kit_dir``, check its size, then move
    it into place; returns its size in bytes."""
    staging = kit_dir.parent / f".{kit_dir.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        runtime = assemble_runtime(staging / "python", spec.python, spec.cuda, wheel_dir)
        say(f"runtime for Python {spec.python}: {folder_bytes(staging / 'python') / 2**20:.1f} MiB")
        built = _build_artifacts(staging, spec, cache_dir, say)
        _write_index(staging, spec, runtime, built)
        for source, name in SCRIPTS.items():
            shutil.copyfile(Path(__file__).with_name(source), staging / name)
        (staging / "README.txt").write_text(readme(kit_dir, spec, runtime))
        size = check_size(staging)
        _replace(kit_dir, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return size


def _build_artifacts(
    staging: Path, spec: KitSpec, cache_dir: Path, say: Any
) -> list[BuiltArtifact]:
    import numpy as np

    from fftc.bench.device_kit_model import skip_weights

    np.save(staging / "D.npy", skip_weights(spec.heads))
    (staging / "artifacts").mkdir()
    built = []
    for case in spec.cases():
        out = staging / "artifacts" / f"{case.slug}.fftc"
        artifact = build_artifact(case, spec.target, out, cache_dir)
        kernel = ""
        if spec.cuda:
            kernel = (
                (", fused Monarch kernel" if fused_monarch(artifact.decisions) else
                 ", Monarch kernel, one kernel per stage")
                if on_monarch(artifact.decisions)
                else ", NOT on the Monarch kernel"
            )  # fmt: skip
        say(f"{case.label}: compiled in {artifact.compile_s:.1f} s{kernel}, "
            f"{out.stat().st_size / 2**10:.0f} KiB")  # fmt: skip
        built.append(artifact)
    return built


def reference_numbers() -> dict[str, Any]:
    """What the runner compares with, from :mod:`fftc.bench.gpu_specs` (one source):
    FlashFFTConv's published H100 times and their (B, H), nominal HBM bandwidths by
    device name, the tolerances and item sizes by dtype."""
    from fftc.bench.gpu_specs import FLASHFFTCONV_H100_MS, GPU_RTOL, ITEMSIZE, NOMINAL_BANDWIDTH
    from fftc.bench.suites import GPU_BATCH, GPU_HEADS

    return {
        "flashfftconv_h100_ms": {str(k): v for k, v in FLASHFFTCONV_H100_MS.items()},
        "flashfftconv_shape": [GPU_BATCH, GPU_HEADS],
        "nominal_bandwidth": [list(row) for row in NOMINAL_BANDWIDTH],
        "rtol": dict(GPU_RTOL),
        "itemsize": dict(ITEMSIZE),
    }


def _write_index(
    staging: Path, spec: KitSpec, runtime: RuntimeInfo, built: list[BuiltArtifact]
) -> None:
    """``kit.json``: what the runner reads (and what a reader of results wants to know)."""
    from fftc import __version__

    index = {
        "format": KIT_FORMAT,
        "format_version": KIT_FORMAT_VERSION,
        "built": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "fftc_version": __version__,
        "fftc_commit": _git_commit(),
        "tvm_version": installed_version("apache-tvm"),
        "target": spec.target,
        "device": "cuda" if spec.cuda else "cpu",
        "python": spec.python,
        "batch": spec.batch,
        "heads": spec.heads,
        "model": MODEL_TEXT,
        "weights": "D.npy",
        "runtime": {"packages": runtime.packages, "cudart": runtime.cudart, "notes": runtime.notes},
        "reference": reference_numbers(),
        "artifacts": [
            {
                "label": a.case.label,
                "L": a.case.length,
                "dtype": a.case.dtype,
                "variant": a.case.variant or "default",
                "file": f"artifacts/{a.path.name}",
                "compile_s": round(a.compile_s, 1),
                "on_monarch_kernel": on_monarch(a.decisions),
                "fused_monarch_kernel": fused_monarch(a.decisions),
                "decisions": a.decisions,
            }
            for a in built
        ],
    }
    (staging / "kit.json").write_text(json.dumps(index, indent=2) + "\n")


_CAPTURE: dict[str, Any] = {"capture_output": True, "text": True, "check": True}


def _git_commit() -> str | None:
    """The repository's commit (with ``+dirty`` for local changes), where git knows it."""
    root = Path(__file__).resolve().parents[2]
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], **_CAPTURE).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "fftc"], **_CAPTURE).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty.strip() else "")


def check_size(folder: Path) -> int:
    """The kit's size; over :data:`MAX_KIT_BYTES` is an error that says what is large."""
    size = folder_bytes(folder)
    if size > MAX_KIT_BYTES:
        parts = {
            p.name: folder_bytes(p) if p.is_dir() else p.stat().st_size for p in folder.iterdir()
        }
        largest = ", ".join(
            f"{n} {b / 2**20:.1f} MiB" for n, b in sorted(parts.items(), key=lambda kv: -kv[1])[:3]
        )
        raise FftcError(
            f"the kit would be {size / 2**20:.1f} MiB, over the {MAX_KIT_BYTES >> 20} MiB the "
            f"device tool can carry beside the repository (largest: {largest}); build fewer "
            "--sizes or --dtypes, or split them over several kits"
        )
    return size


def _replace(kit_dir: Path, staging: Path) -> None:
    """Move the finished kit into place (an earlier kit is removed only now)."""
    if kit_dir.exists():
        old = kit_dir.parent / f".{kit_dir.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        kit_dir.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    staging.rename(kit_dir)


def device_path(kit_dir: Path) -> str:
    """The kit's path as the device tool sees it: relative to this folder (the
    repository root) when inside it."""
    try:
        return str(kit_dir.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(kit_dir)


def readme(kit_dir: Path, spec: KitSpec, runtime: RuntimeInfo) -> str:
    """README.txt: what the kit is and the exact device command."""
    from fftc import __version__

    where = device_path(kit_dir)
    sizes = ", ".join(map(str, spec.sizes))
    notes = "".join(f"  - {n}\n" for n in runtime.notes) or "  - none\n"
    return f"""fftc device kit: fftc's {spec.target} artifacts of the gated long convolution
  {MODEL_TEXT}
at B={spec.batch}, H={spec.heads}, L = {sizes}, {", ".join(spec.dtypes)}; a runtime-only
TVM for Python {spec.python} (python/); and run_kit.py, which times them against PyTorch
(cuFFT) on this machine's GPU and checks their numerics. It needs Python {spec.python} with
NumPy and PyTorch (CUDA build); it imports neither fftc nor TVM's compiler.

On the GPU machine (the device tool: carry ["{where}"]), from the repository root:

  cd {where} && python3 run_kit.py --out $OUT

Options: --only 'L=1024*' (some artifacts; repeatable, to split a run over several
calls), --repeat N, --warmup N, --seed N, --list.
Results: $OUT/kit-results.json (fftc-device-kit-results/1) and $OUT/kit-results.md (the
table of docs/benchmarks.md's GPU section), rewritten after every artifact (a run cut
short keeps what it measured; "complete" says whether it finished); exit status 1 if
fftc fails or is off on any artifact.

Built by fftc {__version__} with TVM {installed_version("apache-tvm")}
(python -m fftc.bench.device_kit build); index: kit.json. Notes:
{notes}"""


# -- command line ----------------------------------------------------------------------------


def run_build(args: argparse.Namespace) -> int:
    from fftc.bench.export import default_cache_dir
    from fftc.codegen.cuda import cache_dir

    kit_dir = Path(args.kit_dir)
    spec = kit_spec(args)
    check_destination(kit_dir, args.force)

    def say(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    wheels = Path(args.wheel_dir) if args.wheel_dir else cache_dir() / "wheels"
    t0 = time.perf_counter()
    size = build_kit(kit_dir, spec, cache, wheels, say)
    print(f"kit: {kit_dir} ({size / 2**20:.1f} MiB, limit {MAX_KIT_BYTES >> 20} MiB), "
          f"{len(spec.cases())} artifacts, built in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    print(f"on the device: cd {device_path(kit_dir)} && python3 run_kit.py --out $OUT")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from fftc.cli.main import run_reporting

    args = build_parser().parse_args(argv)
    return run_reporting(lambda: run_build(args), args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
