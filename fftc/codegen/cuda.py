"""The CUDA toolchain: arch facts, the TVM target, nvcc, and the driver stub.

TVM 0.27 hands CUDA source to nvcc only when its CUDA runtime library
(``libtvm_runtime_cuda.so``) is loaded, and that library links against the
driver, ``libcuda.so.1``.  On a build machine without a GPU (and so without a
driver) ``import tvm`` fails to load it silently, and ``tvm.compile`` then
produces a *source-only* module: the artifact would need a CUDA compiler at
load time.  :func:`prepare_cuda_codegen` avoids that trap:

1. it checks that ``nvcc`` exists (``fftc: error:`` otherwise);
2. it sets ``TVM_CUDA_COMPILE_MODE=nvcc`` (TVM's default, NVRTC, needs the
   ``cuda-bindings`` package and yields a cubin);
3. if no real driver can be loaded, it builds a stub ``libcuda.so.1`` (nine
   entry points that all return ``CUDA_ERROR_NO_DEVICE``) into
   ``~/.cache/fftc/cuda-stub/`` with the C compiler, and preloads it with
   ``ctypes.CDLL(path, RTLD_GLOBAL)``: the dynamic linker then resolves the
   CUDA runtime library's ``libcuda.so.1`` dependency by soname to the loaded
   stub, so neither ``LD_LIBRARY_PATH`` nor a re-exec is needed, even after
   ``import tvm`` (the stub's folder is still prepended to ``LD_LIBRARY_PATH``
   for child processes);
4. it loads ``libtvm_runtime_cuda.so`` the way TVM's own backend loader does.

The compile itself must run inside ``with target:`` (nvcc reads the arch
from the current target).  The exported library then holds a fatbin (magic
bytes ``50 ed 55 ba``), checked by :func:`has_fatbin`.

Nothing here imports TVM at module level: ``fftc.target`` uses the arch
table and GPU detection without the compiler.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fftc.errors import CompileError

log = logging.getLogger("fftc.cuda")

#: the first bytes of a CUDA fatbin (``fatBinaryHeader`` magic 0xBA55ED50, little-endian)
FATBIN_MAGIC = bytes([0x50, 0xED, 0x55, 0xBA])

KIB = 1024


@dataclass(frozen=True)
class ArchInfo:
    """What fftc needs to know about one GPU architecture."""

    arch: str
    #: shared memory one thread block may use with the opt-in (dynamic shared memory)
    max_shared_bytes: int
    #: registers per thread block
    registers_per_block: int
    l2_cache_bytes: int
    example: str

    @property
    def compute_capability(self) -> tuple[int, int]:
        digits = self.arch.removeprefix("sm_")
        return int(digits[:-1]), int(digits[-1])


ARCH_INFO: dict[str, ArchInfo] = {
    info.arch: info
    for info in (
        ArchInfo("sm_75", 64 * KIB, 65536, 4 << 20, "T4"),
        ArchInfo("sm_80", 163 * KIB, 65536, 40 << 20, "A100"),
        ArchInfo("sm_86", 99 * KIB, 65536, 6 << 20, "A10, RTX 30xx"),
        ArchInfo("sm_89", 99 * KIB, 65536, 48 << 20, "L4, L40, RTX 40xx"),
        ArchInfo("sm_90", 227 * KIB, 65536, 50 << 20, "H100, H200"),
        ArchInfo("sm_100", 227 * KIB, 65536, 50 << 20, "B100, B200"),
        ArchInfo("sm_120", 99 * KIB, 65536, 48 << 20, "RTX 50xx"),
    )
}
#: the architectures fftc compiles for (nvcc 13 dropped everything before sm_75)
CUDA_ARCHS = tuple(ARCH_INFO)

#: shared memory a block may allocate statically (TVM's ``shared`` scope, no opt-in)
STATIC_SHARED_BYTES = 48 * KIB


def arch_info(arch: str) -> ArchInfo:
    try:
        return ARCH_INFO[arch]
    except KeyError:
        raise CompileError(
            f"unknown CUDA arch {arch!r}; supported: {', '.join(CUDA_ARCHS)}"
        ) from None


def target_config(arch: str) -> dict[str, Any]:
    """The TVM target dict for ``arch``, with the GPU attributes dlight and
    MetaSchedule read.  ``arch`` is written ``sm_90``, never ``sm_90a`` (dlight
    parses the latter as -1 and skips tensor cores).  The host is generic x86-64
    so the artifact's host code runs on any GPU machine's CPU."""
    info = arch_info(arch)
    return {
        "kind": "cuda",
        "keys": ["cuda", "gpu"],
        "arch": info.arch,
        "max_threads_per_block": 1024,
        "max_num_threads": 1024,
        "thread_warp_size": 32,
        "registers_per_block": info.registers_per_block,
        # TVM allocates ``shared`` buffers statically: 48 KiB without the opt-in;
        # fftc's own kernels check ``max_shared_bytes`` (dynamic shared memory)
        "max_shared_memory_per_block": STATIC_SHARED_BYTES,
        "l2_cache_size_bytes": info.l2_cache_bytes,
        "host": {"kind": "llvm", "mtriple": "x86_64-unknown-linux-gnu"},
    }


# -- finding a GPU -------------------------------------------------------------------------


def local_cuda_arch() -> str | None:
    """The arch of this machine's first NVIDIA GPU (``sm_90``), or None.

    Asks ``nvidia-smi`` first, then PyTorch if it is installed."""
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            ).stdout
            first = out.strip().splitlines()[0].strip()
            major, _, minor = first.partition(".")
            return f"sm_{int(major)}{int(minor or 0)}"
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(0)
            return f"sm_{major}{minor}"
    except Exception:  # a broken CUDA install: treat as no GPU
        return None
    return None


# -- nvcc -----------------------------------------------------------------------------------


def find_nvcc() -> Path | None:
    """nvcc from ``PATH``, ``$CUDA_PATH/bin`` or ``/usr/local/cuda/bin``."""
    found = shutil.which("nvcc")
    if found:
        return Path(found)
    for root in (os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root and (Path(root) / "bin" / "nvcc").is_file():
            return Path(root) / "bin" / "nvcc"
    return None


def require_nvcc() -> Path:
    nvcc = find_nvcc()
    if nvcc is None:
        raise CompileError(
            "nvcc was not found: compiling for a cuda target needs the CUDA toolkit's nvcc "
            "(12 or newer, no GPU needed); install it, or put it on PATH, or set CUDA_PATH"
        )
    return nvcc


# -- the driver stub ------------------------------------------------------------------------

#: C source of the stand-in ``libcuda.so.1``: the nine driver entry points that
#: ``libtvm_runtime_cuda.so`` imports, each failing with CUDA_ERROR_NO_DEVICE.  It only
#: lets the runtime library load for code generation; nothing is ever run through it.
STUB_SOURCE = """\
/* fftc: stand-in CUDA driver for GPU-less build machines (see fftc/codegen/cuda.py). */
typedef int fftc_cu_result;
enum { FFTC_CUDA_ERROR_NO_DEVICE = 100 };
#define FFTC_NO_DEVICE(symbol) \\
    fftc_cu_result symbol(void) { return FFTC_CUDA_ERROR_NO_DEVICE; }
FFTC_NO_DEVICE(cuDeviceGetName)
FFTC_NO_DEVICE(cuFuncSetAttribute)
FFTC_NO_DEVICE(cuGetErrorName)
FFTC_NO_DEVICE(cuGetErrorString)
FFTC_NO_DEVICE(cuLaunchKernelEx)
FFTC_NO_DEVICE(cuModuleGetFunction)
FFTC_NO_DEVICE(cuModuleLoadData)
FFTC_NO_DEVICE(cuModuleUnload)
FFTC_NO_DEVICE(cuTensorMapEncodeTiled)
"""

#: the driver's soname: the real driver is looked up by it, and the stub is built under it
DRIVER_SONAME = "libcuda.so.1"
STUB_NAME = DRIVER_SONAME


def cache_dir() -> Path:
    """``$FFTC_CACHE_DIR``, else ``$XDG_CACHE_HOME/fftc``, else ``~/.cache/fftc``."""
    if os.environ.get("FFTC_CACHE_DIR"):
        return Path(os.environ["FFTC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fftc"


def build_driver_stub(folder: Path | None = None) -> Path:
    """Build (once; rebuilt when :data:`STUB_SOURCE` changes) the stub library."""
    folder = folder or cache_dir() / "cuda-stub"
    lib = folder / STUB_NAME
    stamp = folder / "source.sha256"
    digest = hashlib.sha256(STUB_SOURCE.encode()).hexdigest()
    if lib.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return lib
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise CompileError(
            "no C compiler (cc/gcc) found to build the CUDA driver stub that GPU-less "
            "cross-compilation needs; install one or set CC"
        )
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        src = Path(tmp) / "libcuda_stub.c"
        src.write_text(STUB_SOURCE)
        out = Path(tmp) / STUB_NAME
        cmd = [compiler, "-shared", "-fPIC", f"-Wl,-soname,{STUB_NAME}", "-o", str(out), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise CompileError(
                f"building the CUDA driver stub failed: {proc.stderr.strip() or proc.stdout}"
            )
        os.replace(out, lib)  # atomic: a concurrent build never sees half a library
    stamp.write_text(digest + "\n")
    return lib


# -- making TVM emit fatbins ----------------------------------------------------------------

_prepared = False
#: keeps the preloaded driver (real or stub) alive for the life of the process
_driver_handle: ctypes.CDLL | None = None


def _load_driver() -> str:
    """Load a CUDA driver into the process: the real one if present, else the stub."""
    global _driver_handle
    try:
        _driver_handle = ctypes.CDLL(DRIVER_SONAME, mode=ctypes.RTLD_GLOBAL)
        return "the installed CUDA driver"
    except OSError:
        pass
    stub = build_driver_stub()
    _driver_handle = ctypes.CDLL(str(stub), mode=ctypes.RTLD_GLOBAL)
    paths = [str(stub.parent), *filter(None, os.environ.get("LD_LIBRARY_PATH", "").split(":"))]
    os.environ["LD_LIBRARY_PATH"] = ":".join(dict.fromkeys(paths))
    return f"the driver stub {stub}"


def prepare_cuda_codegen() -> None:
    """Make ``tvm.compile`` for CUDA produce fatbins through nvcc (see module doc)."""
    global _prepared
    if _prepared:
        return
    require_nvcc()
    os.environ["TVM_CUDA_COMPILE_MODE"] = "nvcc"
    from fftc.codegen.tvm_api import cuda_runtime_loaded, load_cuda_runtime

    if not cuda_runtime_loaded():
        driver = _load_driver()
        try:
            load_cuda_runtime()
        except Exception as err:
            raise CompileError(
                f"TVM's CUDA runtime library did not load with {driver}: {err}"
            ) from err
        log.debug("loaded TVM's CUDA runtime with %s", driver)
    if not cuda_runtime_loaded():
        raise CompileError(
            "TVM's CUDA runtime (libtvm_runtime_cuda.so) is not available; this TVM build "
            "cannot produce CUDA binaries"
        )
    _prepared = True


def has_fatbin(library: Path) -> bool:
    """Whether a compiled library embeds a CUDA fatbin (not just CUDA source)."""
    return FATBIN_MAGIC in library.read_bytes()
