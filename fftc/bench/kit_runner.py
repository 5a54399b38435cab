"""run_kit.py: time a device kit's fftc artifacts against PyTorch on this machine.

Copied into a kit by ``python -m fftc.bench.device_kit build`` (source:
``fftc/bench/kit_runner.py``).  It needs only NumPy, PyTorch and the runtime-only TVM in
the kit's ``python/`` folder; it never imports fftc or TVM's compiler.  Usage, in the kit:

    python3 run_kit.py --out $OUT            # every artifact; --only 'L=1024*' for some

Per artifact (gated convolution ``y = (irfft(rfft(u*pre, 2L) * K)[..., :L] + D*u) * post``
at the kit's B, H): u, pre, post (B, H, L) in the artifact's dtype and the filter k (H, L)
are made on the device from ``--seed``; ``K = rfft(k, 2L)`` in float32 is an input of
fftc's module; ``D`` comes from the kit.  The reference is PyTorch's float32 FFT
convolution.  fftc's module runs on the same tensors (DLPack, no copy), timed with
TVM's ``time_evaluator``; PyTorch's FFT convolutions (fp32 with casts; fp16 FFTs for
fp16 on CUDA) are timed with CUDA events.  Writes ``kit-results.json`` and
``kit-results.md`` to ``--out`` (default ``$OUT``, else ``./out``); exit status 1 when
fftc fails or exceeds the tolerance on any artifact.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import gc
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

KIT = Path(__file__).resolve().parent
sys.path.insert(0, str(KIT))  # kit_report.py beside this file (as when run as a script)
from kit_report import (  # type: ignore[import-not-found]  # noqa: E402
    add_columns,
    describe,
    explanations,
    failed,
    first_line,
    max_rel_err,
    measured,
    nominal_bandwidth,
    table,
)

KIT_FORMAT = "fftc-device-kit"
RESULTS_FORMAT = "fftc-device-kit-results/1"
#: bytes copied to measure the bandwidth of a device the kit's table does not know
COPY_BYTES = {"cuda": 1 << 30, "cpu": 1 << 26}
T = TypeVar("T")


class KitError(Exception):
    """A problem with the kit or this machine, reported without a traceback."""


# -- the kit and its runtime -----------------------------------------------------------------


def read_kit(kit: Path) -> dict[str, Any]:
    """The kit's index ``kit.json`` (written by the build)."""
    try:
        index = json.loads((kit / "kit.json").read_text())
    except (OSError, ValueError) as err:
        raise KitError(f"{kit}: no readable kit.json ({err}); is this a device kit?") from None
    if index.get("format") != KIT_FORMAT:
        raise KitError(f"{kit}/kit.json: not a device kit index")
    return dict(index)


def use_kit_runtime(kit: Path, index: dict[str, Any]) -> Any:
    """Import the kit's runtime-only TVM (never an installed one) and return ``tvm``."""
    want = str(index["python"])
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    if want != have:
        raise KitError(
            f"the kit's TVM runtime was built for Python {want} (tvm_ffi's compiled "
            f"extension); this is Python {have}. Rebuild the kit with --python {have}"
        )
    os.environ["TVM_USE_RUNTIME_LIB"] = "1"  # no compiler, even if one were found
    os.environ.setdefault("TVM_FFI_DISABLE_TORCH_C_DLPACK", "1")  # no JIT build of an addon
    sys.path.insert(0, str(kit / "python"))
    import tvm

    where = Path(tvm.__file__).resolve()
    if not where.is_relative_to((kit / "python").resolve()):
        raise KitError(f"tvm was imported from {where}, not from the kit")
    return tvm


def cuda_runtime_problem(tvm: Any) -> str | None:
    """Load TVM's CUDA runtime (not autoloaded in runtime-only mode) as ``import tvm``
    would; returns why CUDA code cannot run, or None."""
    if tvm.get_global_func("device_api.cuda", allow_missing=True) is None:
        from tvm.base import _LOADED_LIBS
        from tvm_ffi.libinfo import load_lib_ctypes

        runtime_dir = Path(_LOADED_LIBS["tvm_runtime"]._name).resolve().parent
        try:
            _LOADED_LIBS["tvm_runtime_cuda"] = load_lib_ctypes(
                package="tvm", target_name="tvm_runtime_cuda",
                extra_lib_paths=[runtime_dir], mode="RTLD_GLOBAL",
            )  # fmt: skip
        except Exception as err:
            return f"TVM's CUDA runtime did not load ({first_line(err)})"
    if not tvm.cuda(0).exist:
        return "TVM sees no CUDA device (is the NVIDIA driver new enough for the kit's libcudart?)"
    return None


def load_artifact(path: Path, into: Path) -> tuple[dict[str, Any], Path]:
    """The manifest and the extracted library of an fftc artifact (a zip: manifest.json
    + module.so), the library checked against the manifest's sha256."""
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        data = zf.read("module.so")
    if hashlib.sha256(data).hexdigest() != manifest["library_sha256"]:
        raise KitError(f"{path.name}: the library does not match its manifest's sha256")
    library = into / f"{path.stem}.so"
    library.write_bytes(data)
    return manifest, library


# -- measuring -------------------------------------------------------------------------------


class Bench:
    """The device, the libraries and the settings one run measures with."""

    def __init__(self, args: argparse.Namespace, index: dict[str, Any], tvm: Any) -> None:
        import torch

        self.torch, self.tvm, self.index = torch, tvm, index
        self.device = str(index["device"])  # "cuda", or "cpu" for llvm kits (host tests)
        self.cuda = self.device == "cuda"
        self.dev = tvm.cuda(0) if self.cuda else tvm.cpu(0)
        self.repeat, self.warmup, self.seed = args.repeat, args.warmup, args.seed
        self.dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def release(self) -> None:
        """Hand back what the last implementation left cached (TVM's pooled allocator,
        PyTorch's caching allocator), so that neither starves the other."""
        gc.collect()
        clear = self.tvm.get_global_func("vm.builtin.memory_manager.clear", allow_missing=True)
        if clear is not None:
            clear()
        if self.cuda:
            self.torch.cuda.empty_cache()

    def time_calls(self, call: Callable[[], object]) -> list[float]:
        """Milliseconds of ``--repeat`` calls after ``--warmup`` ones: CUDA events around
        each call on a GPU, wall time on the CPU."""
        for _ in range(self.warmup):
            call()
        self.sync()
        if not self.cuda:
            times = []
            for _ in range(self.repeat):
                t0 = time.perf_counter()
                call()
                times.append((time.perf_counter() - t0) * 1e3)
            return times
        event = self.torch.cuda.Event
        pairs = [(event(enable_timing=True), event(enable_timing=True)) for _ in range(self.repeat)]
        for start, end in pairs:
            start.record()
            call()
            end.record()
        self.sync()
        return [start.elapsed_time(end) for start, end in pairs]


def make_inputs(bench: Bench, batch: int, heads: int, length: int, dtype: str) -> dict[str, Any]:
    """u, pre, post (standard normal, in ``dtype``), the filter's spectrum ``K`` (H, L+1, 2)
    float32 (k standard normal / sqrt(L)) and ``K_complex``, made on the device."""
    torch = bench.torch
    gen = torch.Generator(device=bench.device).manual_seed(bench.seed)
    feeds: dict[str, Any] = {}
    for name in ("u", "pre", "post"):
        values = torch.randn((batch, heads, length), generator=gen, device=bench.device)
        feeds[name] = values.to(bench.dtypes[dtype])
        del values
    k = torch.randn((heads, length), generator=gen, device=bench.device) * length**-0.5
    feeds["K_complex"] = torch.fft.rfft(k, n=2 * length)
    feeds["K"] = torch.view_as_real(feeds["K_complex"]).contiguous()
    return feeds


def fp32_conv(torch: Any, feeds: dict[str, Any], d: Any, rows: slice = slice(None)) -> Any:
    """PyTorch's float32 FFT convolution of ``rows`` of the batch (inputs cast up)."""
    n = feeds["u"].shape[-1]
    u = feeds["u"][rows].float()
    spectrum = torch.fft.rfft(u * feeds["pre"][rows].float(), n=2 * n) * feeds["K_complex"]
    y = torch.fft.irfft(spectrum, n=2 * n)[..., :n]
    return (y + d * u) * feeds["post"][rows].float()


def reference(bench: Bench, feeds: dict[str, Any], d: Any, rows: int = 4) -> Any:
    """:func:`fp32_conv` a few batch rows at a time (less device memory than at once)."""
    out = bench.torch.empty(feeds["u"].shape, dtype=bench.torch.float32, device=bench.device)
    for start in range(0, out.shape[0], rows):
        part = slice(start, start + rows)
        out[part] = fp32_conv(bench.torch, feeds, d, part)
    return out


def torch_impls(
    bench: Bench, feeds: dict[str, Any], d: Any, dtype: str
) -> dict[str, Callable[[], Any]]:
    """PyTorch's candidates: float32 FFTs (half inputs cast up, the output cast back) and,
    for fp16 on CUDA, half-precision cuFFT (powers of two only; no bf16 FFT exists)."""
    torch = bench.torch
    fft = "cuFFT" if bench.cuda else "torch FFT"
    if dtype == "fp32":
        return {f"{fft} fp32": lambda: fp32_conv(torch, feeds, d)}
    impls = {f"{fft} fp32, inputs cast": lambda: fp32_conv(torch, feeds, d).to(bench.dtypes[dtype])}
    if dtype == "fp16" and bench.cuda:
        with warnings.catch_warnings():  # "ComplexHalf support is experimental"
            warnings.simplefilter("ignore")
            k_half, d_half = feeds["K_complex"].to(torch.complex32), d.half()

        def fp16() -> Any:
            u, n = feeds["u"], feeds["u"].shape[-1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y = torch.fft.irfft(torch.fft.rfft(u * feeds["pre"], n=2 * n) * k_half, n=2 * n)
            return (y[..., :n] + d_half * u) * feeds["post"]

        impls["cuFFT fp16"] = fp16
    return impls


def run_fftc(
    bench: Bench, entry: dict[str, Any], feeds: dict[str, Any], ref: Any, rtol: float
) -> dict[str, Any]:
    """Load the artifact's library, run it on ``feeds`` (DLPack), check and time it."""
    import tvm_ffi
    from tvm.runtime.vm import VirtualMachine

    torch = bench.torch
    with tempfile.TemporaryDirectory(prefix="fftc-kit-") as tmp:
        manifest, library = load_artifact(KIT / entry["file"], Path(tmp))
        vm = VirtualMachine(bench.tvm.runtime.load_module(str(library)), bench.dev)
    args = []
    for spec in manifest["inputs"]:
        tensor = feeds[spec["name"]]
        got = (list(tensor.shape), str(tensor.dtype).rsplit(".", 1)[-1])
        if got != (list(spec["shape"]), spec["dtype"]):
            raise KitError(f"input {spec['name']}: made {got}, the module takes {spec}")
        args.append(tvm_ffi.from_dlpack(tensor))
    result = vm["main"](*args)
    out = torch.from_dlpack(result if hasattr(result, "shape") else result[0])
    bench.sync()
    err = max_rel_err(out, ref)
    del out, result
    for _ in range(bench.warmup):
        vm["main"](*args)
    bench.sync()
    timer = vm.time_evaluator("main", bench.dev, number=1, repeat=bench.repeat)
    times = [float(t) * 1e3 for t in timer(*args).results]
    return measured(times, err, rtol)


def in_thread(work: Callable[[], T]) -> T:
    """``work()`` in a thread of its own (its exception re-raised here).  TVM's CUDA
    workspace pool is thread-local and keeps its pages until its thread ends: fftc's
    scratch memory (tens of GB at large L) is handed back when this thread is joined,
    before PyTorch's candidates need the memory."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=target, name="fftc")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


def run_torch(bench: Bench, call: Callable[[], Any], ref: Any, rtol: float) -> dict[str, Any]:
    """Check one PyTorch variant against the reference, then time it."""
    with bench.torch.inference_mode():
        out = call()
        bench.sync()
        err = max_rel_err(out, ref)
        del out
        return measured(bench.time_calls(call), err, rtol)


def run_case(
    bench: Bench, entry: dict[str, Any], d_host: Any, log: Callable[[str], None]
) -> dict[str, Any]:
    """Every implementation on one artifact's inputs (freed on return)."""
    torch, index = bench.torch, bench.index
    batch, heads, length, dtype = index["batch"], index["heads"], entry["L"], entry["dtype"]
    rtol = float(index["reference"]["rtol"][dtype])
    row: dict[str, Any] = {"case": entry["label"], "L": length, "dtype": dtype}
    row.update(B=batch, H=heads, rtol=rtol, compile_s=entry.get("compile_s"))
    need = batch * heads * length * (4 * index["reference"]["itemsize"][dtype] + 4)
    if bench.cuda and need > torch.cuda.mem_get_info()[0]:
        reason = f"needs {need / 2**30:.1f} GiB of device memory for inputs, output and reference"
        row.update(fftc=failed("n/a", reason), torch={})
        return row
    with torch.inference_mode():
        feeds = make_inputs(bench, batch, heads, length, dtype)
        d = torch.from_numpy(d_host).to(bench.device)[:, None]
        ref = reference(bench, feeds, d)
    try:
        row["fftc"] = in_thread(functools.partial(run_fftc, bench, entry, feeds, ref, rtol))
    except KitError:
        raise
    except Exception as err:  # out of memory, a failed launch: this artifact's error
        row["fftc"] = failed("error", first_line(err))
    bench.release()
    log(f"{entry['label']}: fftc {describe(row['fftc'])}")
    row["torch"] = {}
    for name, call in torch_impls(bench, feeds, d, dtype).items():
        try:
            row["torch"][name] = run_torch(bench, call, ref, rtol)
        except Exception as err:  # out of memory: this variant's error
            row["torch"][name] = failed("error", first_line(err))
        bench.release()
        log(f"{entry['label']}: {name} {describe(row['torch'][name])}")
    del feeds, ref
    bench.release()
    return row


# -- the machine, the floor and the table ----------------------------------------------------


def machine(bench: Bench) -> dict[str, Any]:
    """What ran: device, versions, driver (nvidia-smi where present)."""
    torch = bench.torch
    info: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "tvm": bench.tvm.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "host": platform.node(),
    }  # fmt: skip
    if bench.cuda:
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, compute_capability=f"sm_{props.major}{props.minor}",
                    gpu_memory_gib=round(props.total_memory / 2**30, 1))  # fmt: skip
        if shutil.which("nvidia-smi"):
            query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            done = subprocess.run(query, capture_output=True, text=True, check=False)
            info["driver"] = done.stdout.strip().splitlines()[0] if done.stdout.strip() else None
    else:
        info["cpu"] = platform.processor() or platform.machine()
    return info


def bandwidth(bench: Bench, name: str) -> tuple[float, str]:
    """The device's nominal HBM bandwidth (bytes/s) from the kit's table, else that of a
    device-to-device copy measured now."""
    nominal = nominal_bandwidth(bench.index["reference"], name) if bench.cuda else None
    if nominal is not None:
        return nominal
    torch, nbytes = bench.torch, COPY_BYTES[bench.device]
    buffers = [torch.empty(nbytes, dtype=torch.uint8, device=bench.device) for _ in range(2)]
    times = bench.time_calls(lambda: buffers[1].copy_(buffers[0]))
    buffers.clear()
    bench.release()
    return 2 * nbytes / (statistics.median(times) / 1e3), f"measured copy of {nbytes >> 20} MiB"


# -- command line ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_kit.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT") or "out",
                   help="folder for kit-results.json/.md (default: $OUT, else ./out)")  # fmt: skip
    p.add_argument("--only", action="append", default=[], metavar="PATTERN",
                   help="artifacts whose label matches (e.g. 'L=1024*'); repeatable")  # fmt: skip
    p.add_argument("--repeat", type=int, default=20, help="timed runs per implementation (20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs before timing (3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs and the filter (0)")
    p.add_argument("--list", action="store_true", help="list the artifacts and exit")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0:
        p.error("--repeat must be at least 1 and --warmup at least 0")
    return args


def selected(index: dict[str, Any], patterns: list[str]) -> list[dict[str, Any]]:
    entries = list(index["artifacts"])
    if not patterns:
        return entries
    chosen = [e for e in entries if any(fnmatch.fnmatchcase(e["label"], p) for p in patterns)]
    if not chosen:
        labels = ", ".join(e["label"] for e in entries)
        raise KitError(f"--only {' '.join(patterns)} matches no artifact; the kit has: {labels}")
    return chosen


def start(index: dict[str, Any], args: argparse.Namespace) -> Bench:
    """Import the kit's TVM, NumPy and PyTorch; check that the device can run the kit."""
    tvm = use_kit_runtime(KIT, index)
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as err:
        raise KitError(
            f"{err.name} is not installed for this Python; the kit needs NumPy and PyTorch"
        ) from None
    bench = Bench(args, index, tvm)
    if bench.cuda:
        if not bench.torch.cuda.is_available():
            raise KitError("PyTorch sees no CUDA device (a CPU-only PyTorch, or no GPU)")
        problem = cuda_runtime_problem(tvm)
        if problem is not None:
            raise KitError(problem)
    return bench


def write_results(out: Path, results: dict[str, Any], text: str, notes: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "kit-results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "kit-results.md").write_text(text + "\n" + "".join(f"\n{n}" for n in notes) + "\n")


def run(args: argparse.Namespace) -> int:
    """Every selected artifact; the results are rewritten after each (a run cut short
    keeps what it measured)."""
    index = read_kit(KIT)
    entries = selected(index, args.only)
    if args.list:
        print("\n".join(f"{e['label']}: {e['file']}" for e in entries))
        return 0
    bench = start(index, args)
    import numpy as np

    info = machine(bench)
    rate, source = bandwidth(bench, info.get("gpu", ""))
    info.update(bandwidth_bytes_per_s=rate, bandwidth_source=source)
    print(
        f"device: {info.get('gpu', info.get('cpu'))}; {rate / 1e12:.2f} TB/s ({source})", flush=True
    )
    d_host = np.load(KIT / index["weights"]).astype(np.float32)
    settings = {
        "repeat": args.repeat,
        "warmup": args.warmup,
        "seed": args.seed,
        "device": bench.device,
    }
    kit_info = {k: v for k, v in index.items() if k != "artifacts"}
    results: dict[str, Any] = {"format": RESULTS_FORMAT, "kit": kit_info, "machine": info,
               "settings": settings, "complete": False, "cases": []}  # fmt: skip
    floor_label = source if "nominal" in source else "measured"
    rows: list[dict[str, Any]] = results["cases"]
    for number, entry in enumerate(entries, 1):
        row = run_case(bench, entry, d_host, lambda line: print(line, flush=True))
        add_columns(row, index["reference"], rate)
        rows.append(row)
        results["complete"] = number == len(entries)
        write_results(Path(args.out), results, table(rows, floor_label), explanations(rows))
    text, notes = table(rows, floor_label), explanations(rows)
    print("\n" + text + ("\n\n" + "\n".join(notes) if notes else ""))
    print(f"wrote {Path(args.out) / 'kit-results.json'} and {Path(args.out) / 'kit-results.md'}")
    bad = [r for r in rows if r["fftc"]["status"] != "ok" or r["fftc"]["flag"]]
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except KitError as err:
        sys.stderr.write(f"run_kit.py: error: {err}\n")
        return 1
    except BrokenPipeError:  # output piped into head
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
