"""A runtime-only TVM for the device's Python, assembled into ``KIT/python``.

What goes in (see ``docs/benchmarks.md``, "Device kit"): the ``tvm`` package of this
install without its compiler (``lib/libtvm_compiler.so``, 248 MB) and without the
directories that only the compiler uses; ``tvm_ffi``, ``ml_dtypes`` and
``typing_extensions``.  ``tvm`` is the same for every Python (its wheel is
``py3-none``), but ``tvm_ffi`` and ``ml_dtypes`` hold compiled extensions per Python
version: for a device Python other than this one they come from that version's
manylinux wheels, fetched with ``pip download`` into a cache.  For cuda kits the CUDA
runtime library that ``libtvm_runtime_cuda.so`` links (``libcudart.so.13``) is put
beside it, where its ``$ORIGIN`` run path finds it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from fftc.errors import FftcError, UsageError

#: wheels of the device are fetched for this platform
PLATFORM = "manylinux_2_28_x86_64"
#: top-level ``tvm`` entries a runtime-only TVM does without (``rpc`` stays: the VM
#: imports it)
TVM_EXCLUDED = frozenset(
    {"3rdparty", "include", "src", "web", "lib64", "relax", "s_tir", "topi", "testing",
     "exec", "contrib", "licenses"}
)  # fmt: skip
#: the compiler library, the one file of ``tvm/lib`` that is left out
COMPILER_LIBRARY = "libtvm_compiler.so"
#: ``tvm_ffi``'s headers and sources (for building extensions, not for running)
TVM_FFI_EXCLUDED = frozenset({"include", "src", "3rdparty", "cython", "share", "CMakeLists.txt"})


@dataclass(frozen=True)
class Package:
    """A Python package of the runtime: its distribution and top-level module name."""

    dist: str
    module: str
    #: whether it holds compiled extensions that depend on the Python version
    binary: bool
    excluded: frozenset[str] = frozenset()


TVM = Package("apache-tvm", "tvm", binary=False, excluded=TVM_EXCLUDED)
PACKAGES = (
    TVM,
    Package("apache-tvm-ffi", "tvm_ffi", binary=True, excluded=TVM_FFI_EXCLUDED),
    Package("ml_dtypes", "ml_dtypes", binary=True),
    Package("typing_extensions", "typing_extensions", binary=False),
)


@dataclass
class RuntimeInfo:
    """What the kit's runtime holds, for ``kit.json`` and the README."""

    python: str
    #: distribution -> "version (from ...)"
    packages: dict[str, str] = field(default_factory=dict)
    #: the CUDA runtime library shipped in ``tvm/lib`` (None: not shipped)
    cudart: str | None = None
    notes: list[str] = field(default_factory=list)


def host_python() -> str:
    """This interpreter's ``major.minor``."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def check_python_version(text: str) -> str:
    """``3.12`` style, CPython 3.9 or later."""
    match = re.fullmatch(r"3\.(\d+)", text.strip())
    if match is None or int(match.group(1)) < 9:
        raise UsageError(f"--python {text!r}: give the device's Python as MAJOR.MINOR, e.g. 3.12")
    return text.strip()


def assemble_runtime(dest: Path, python: str, cuda: bool, wheel_dir: Path) -> RuntimeInfo:
    """Write the runtime-only TVM for Python ``python`` into ``dest`` (a new folder)."""
    dest.mkdir(parents=True)
    info = RuntimeInfo(python)
    for package in PACKAGES:
        version = installed_version(package.dist)
        if package.binary and python != host_python():
            wheel = ensure_wheel(package.dist, version, python, wheel_dir)
            extract_package(wheel, package, dest)
            source = f"from {wheel.name}"
        else:
            copy_installed(package, dest)
            source = "from this install"
        info.packages[package.dist] = f"{version} ({source})"
    if cuda:
        add_cuda_runtime(dest / TVM.module / "lib", info)
    return info


def installed_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise FftcError(
            f"{dist} is not installed here; the kit's runtime is made from it"
        ) from None


def _installed_path(package: Package) -> Path:
    """The package folder (or single-file module) of this install, found without
    importing it."""
    dist = metadata.distribution(package.dist)
    for candidate in (package.module, f"{package.module}.py"):
        path = Path(str(dist.locate_file(candidate)))
        if path.exists():
            return path
    raise FftcError(f"{package.dist}: no {package.module} found beside its metadata")


def _ignore(package: Package, root: Path) -> Callable[[str, list[str]], set[str]]:
    """A ``shutil.copytree`` filter: byte code, the excluded top-level entries, and the
    compiler library."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__"}
        here = Path(folder)
        if here == root:
            skipped |= set(names) & package.excluded
        if here == root / "lib":
            skipped |= set(names) & {COMPILER_LIBRARY}
        return skipped

    return ignore


def copy_installed(package: Package, dest: Path) -> None:
    """Copy the package as installed for this Python (without what it excludes)."""
    source = _installed_path(package)
    if source.is_file():
        shutil.copy2(source, dest / source.name)
        return
    shutil.copytree(source, dest / source.name, ignore=_ignore(package, source))


def _wheel_tag(python: str) -> str:
    return "cp" + python.replace(".", "")


def _normalized(dist: str) -> str:
    return re.sub(r"[-_.]+", "_", dist).lower()


def cached_wheel(dist: str, version: str, python: str, wheel_dir: Path) -> Path | None:
    """A wheel of ``dist==version`` for ``python`` already in ``wheel_dir``."""
    if not wheel_dir.is_dir():
        return None
    prefix = f"{_normalized(dist)}-{version}-{_wheel_tag(python)}-".lower()
    found = sorted(p for p in wheel_dir.glob("*.whl") if p.name.lower().startswith(prefix))
    return found[0] if found else None


def download_command(dist: str, version: str, python: str, wheel_dir: Path) -> list[str]:
    """``pip download`` of the device's wheel (binary only, no dependencies)."""
    return [
        sys.executable, "-m", "pip", "download", "--only-binary=:all:",
        "--python-version", python, "--platform", PLATFORM, "--no-deps",
        "--disable-pip-version-check", "--timeout", "30", "--retries", "1",
        "--dest", str(wheel_dir), f"{dist}=={version}",
    ]  # fmt: skip


def ensure_wheel(dist: str, version: str, python: str, wheel_dir: Path) -> Path:
    """The wheel of ``dist==version`` for CPython ``python`` on :data:`PLATFORM`: from
    ``wheel_dir``, else downloaded there by pip; a clear error if pip cannot get it."""
    found = cached_wheel(dist, version, python, wheel_dir)
    if found is not None:
        return found
    wheel_dir.mkdir(parents=True, exist_ok=True)
    command = download_command(dist, version, python, wheel_dir)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        reason = _pip_reason(done.stdout + done.stderr) if done.returncode else ""
    except (OSError, subprocess.TimeoutExpired) as err:
        reason = str(err)
    found = cached_wheel(dist, version, python, wheel_dir)
    if found is None:
        raise FftcError(
            f"could not download the Python {python} wheel of {dist}=={version} for "
            f"{PLATFORM} (pip: {reason or 'no such wheel'}); the kit's runtime needs it. "
            f"Put the wheel into {wheel_dir} (e.g. run '{' '.join(command[2:])}' on a machine "
            f"with network) and build again, or pass --python {host_python()} if the device "
            "runs this Python version"
        )
    return found


def _pip_reason(output: str) -> str:
    """pip's last error line (what the user needs to see), without pip's prefix."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    last = (errors or lines or [""])[-1]
    return last.removeprefix("ERROR:").strip()


def extract_package(wheel: Path, package: Package, dest: Path) -> None:
    """Unpack the package's files from ``wheel`` into ``dest`` (without byte code and
    the excluded top-level entries); executable bits are kept."""
    prefix = f"{package.module}/"
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.startswith(prefix) or name.endswith("/"):
                continue
            parts = name.split("/")
            if "__pycache__" in parts or parts[1] in package.excluded:
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)
    if not (dest / package.module).is_dir():
        raise FftcError(f"{wheel.name}: holds no {package.module}/ package")


def add_cuda_runtime(tvm_lib: Path, info: RuntimeInfo) -> None:
    """Ship the CUDA runtime library that TVM's CUDA runtime links, from this machine's
    CUDA install, beside ``libtvm_runtime_cuda.so``; else say that the device must have it."""
    soname = cudart_soname(tvm_lib / "libtvm_runtime_cuda.so")
    source = find_cuda_library(soname)
    if source is None:
        info.notes.append(
            f"{soname} was not found on the build machine and is not in the kit: the device "
            "must provide it (e.g. from its CUDA toolkit or the nvidia-cuda-runtime wheel)"
        )
        return
    shutil.copyfile(source, tvm_lib / soname)
    info.cudart = f"{soname} (from {source})"
    info.notes.append(
        f"{soname} (CUDA {soname.rsplit('.', 1)[-1]}) needs an NVIDIA driver for that CUDA "
        "major version on the device (CUDA 13: driver 580 or newer)"
    )


def cudart_soname(runtime_cuda: Path) -> str:
    """The ``libcudart.so.N`` that TVM's CUDA runtime library was linked against."""
    match = re.search(rb"libcudart\.so\.\d+", runtime_cuda.read_bytes())
    if match is None:
        raise FftcError(f"{runtime_cuda}: names no libcudart.so.N; is this TVM built with CUDA?")
    return match.group().decode()


def find_cuda_library(name: str) -> Path | None:
    """``name`` in this machine's CUDA install (beside nvcc, $CUDA_PATH, /usr/local/cuda)."""
    from fftc.codegen.cuda import find_nvcc

    roots = []
    nvcc = find_nvcc()
    if nvcc is not None:
        roots.append(Path(nvcc).resolve().parent.parent)
    if os.environ.get("CUDA_PATH"):
        roots.append(Path(os.environ["CUDA_PATH"]))
    roots.append(Path("/usr/local/cuda"))
    for root in roots:
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib"):
            path = root / sub / name
            if path.is_file():
                return path.resolve()
    return None


def folder_bytes(folder: Path) -> int:
    """The size of every file under ``folder`` (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
