"""The ``.fftc`` artifact: one zip file holding

* ``manifest.json`` - inputs/outputs, target, fftc and TVM versions, sha256 of the library;
* ``module.so``     - the compiled library (TVM Relax VM executable + native kernels);
* ``graph.ir``      - the fftc IR it was built from (large constants elided), for humans.

Loading checks the manifest and the library hash before any native code is
loaded, and refuses artifacts for another fftc/TVM version or another machine.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

from fftc.errors import ArtifactError, UsageError
from fftc.runtime import tvm_runtime
from fftc.runtime.manifest import Manifest

MANIFEST = "manifest.json"
LIBRARY = "module.so"
GRAPH = "graph.ir"
#: artifacts larger than this are refused before reading (a corrupt or hostile file)
MAX_ARTIFACT_BYTES = 8 << 30


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_writable(path: Path, force: bool) -> None:
    """Refuse to overwrite an existing file (unless ``force``) or a directory."""
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; give a file name for the artifact")
    if path.exists() and not force:
        raise UsageError(f"{path}: already exists; pass --force (force=True) to overwrite it")
    if not path.parent.exists():
        raise UsageError(f"{path.parent}: no such directory")


def write_artifact(
    path: str | os.PathLike[str],
    library: Path,
    manifest: Manifest,
    graph_text: str = "",
    force: bool = False,
) -> Path:
    """Write atomically: a partial artifact never appears under ``path``."""
    out = Path(path)
    check_writable(out, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, manifest.to_json())
            zf.write(library, LIBRARY)
            if graph_text:
                zf.writestr(GRAPH, graph_text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def read_manifest(path: str | os.PathLike[str]) -> tuple[Manifest, zipfile.ZipFile]:
    p = Path(path)
    if not p.is_file():
        raise ArtifactError(f"{p}: no such artifact file")
    if p.stat().st_size > MAX_ARTIFACT_BYTES:
        raise ArtifactError(f"{p}: {p.stat().st_size} bytes is too large for an artifact")
    if not zipfile.is_zipfile(p):
        raise ArtifactError(f"{p}: not an fftc artifact (not a zip archive)")
    try:
        zf = zipfile.ZipFile(p)
        names = set(zf.namelist())
        if MANIFEST not in names or LIBRARY not in names:
            raise ArtifactError(f"{p}: not an fftc artifact (missing {MANIFEST} or {LIBRARY})")
        manifest = Manifest.from_json(zf.read(MANIFEST).decode("utf-8", "replace"), str(p))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ArtifactError(f"{p}: corrupt or truncated artifact ({err})") from None
    return manifest, zf


def extract_library(zf: zipfile.ZipFile, manifest: Manifest, where: str, into: Path) -> Path:
    """Extract the library after checking its size and sha256 against the manifest."""
    try:
        info = zf.getinfo(LIBRARY)
        if info.file_size != manifest.library_size:
            raise ArtifactError(
                f"{where}: library is {info.file_size} bytes, the manifest says "
                f"{manifest.library_size}; the artifact was modified or truncated"
            )
        data = zf.read(LIBRARY)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ArtifactError(f"{where}: corrupt or truncated artifact ({err})") from None
    if hashlib.sha256(data).hexdigest() != manifest.library_sha256:
        raise ArtifactError(
            f"{where}: the library's sha256 does not match the manifest; the artifact was "
            "modified after it was built and is refused"
        )
    lib = into / LIBRARY
    lib.write_bytes(data)
    return lib


def check_compatible(manifest: Manifest, where: str) -> None:
    """Refuse artifacts from another fftc/TVM release or for a CPU/GPU this is not."""
    from fftc import __version__

    if _major_minor(manifest.fftc_version) != _major_minor(__version__):
        raise ArtifactError(
            f"{where}: built by fftc {manifest.fftc_version}; this is fftc {__version__}. "
            "Recompile the model with this fftc"
        )
    tvm_version = tvm_runtime.version()
    if _major_minor(manifest.tvm_version) != _major_minor(tvm_version):
        raise ArtifactError(
            f"{where}: built with TVM {manifest.tvm_version}; this runtime is TVM "
            f"{tvm_version}. Recompile the model or install the matching TVM"
        )
    kind = manifest.target.get("kind")
    if kind == "llvm":
        missing = sorted(set(manifest.target.get("cpu_flags", [])) - host_cpu_flags())
        if missing:
            raise ArtifactError(
                f"{where}: built for CPU {manifest.target.get('arch')!r}, which needs "
                f"{', '.join(missing)}; this CPU lacks them. Recompile with --target llvm here"
            )
    elif kind is not None and kind != "cuda":
        raise ArtifactError(f"{where}: unknown target kind {kind!r}")


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


#: instruction-set flags (as /proc/cpuinfo names them) that LLVM code may rely on
ISA_FLAGS = (
    "sse4_1",
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi1",
    "bmi2",
    "avx512f",
    "avx512dq",
    "avx512cd",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx512vbmi",
    "amx_tile",
)


def host_cpu_flags() -> set[str]:
    """The ISA flags of this CPU (Linux x86-64); empty where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split()) & set(ISA_FLAGS)
    return set()
