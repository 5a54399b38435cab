"""``python -m fftc.bench.device_kit build``: a tiny kit for llvm (B=2, H=4, L=64) with
the runtime-only TVM made from this install, run by its ``run_kit.py`` on the CPU in a
subprocess (numerics, JSON, no fftc and no TVM compiler imported); the argument errors;
the kit's size limit; the device Python's wheels (a fake one offline; the real ones only
when pip can reach the index) and the CUDA runtime library."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from fftc.bench import device_kit, kit_report
from fftc.bench.device_kit_runtime import (
    COMPILER_LIBRARY,
    PACKAGES,
    TVM_EXCLUDED,
    RuntimeInfo,
    add_cuda_runtime,
    assemble_runtime,
    cudart_soname,
    ensure_wheel,
    extract_package,
    find_cuda_library,
    host_python,
    installed_version,
)
from fftc.errors import FftcError

BENCH = Path(device_kit.__file__).parent
#: runs the kit's run_kit.py as ``python3 run_kit.py`` would, then reports what was imported
WRAPPER = """
import json, runpy, sys
script = sys.argv[1]
sys.argv = [script, *sys.argv[2:]]
code = 0
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as err:
    code = err.code
import tvm
from tvm.base import _LOADED_LIBS
fftc = sorted(m for m in sys.modules if m == "fftc" or m.startswith("fftc."))
print("WRAPPER " + json.dumps({"code": code, "fftc": fftc, "tvm": tvm.__file__,
                               "libs": sorted(_LOADED_LIBS)}))
"""


def run_main(argv: list[str]) -> int:
    """``main(argv)``'s exit status, argparse's exits included."""
    try:
        return device_kit.main(argv)
    except SystemExit as err:
        return int(err.code or 0)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    root = tmp_path_factory.mktemp("device-kit")
    kit_dir = root / "kit"
    args = ["build", str(kit_dir), "--target", "llvm", "--sizes", "64", "--dtypes", "fp32,fp16",
            "--batch", "2", "--heads", "4", "--python", host_python(),
            "--cache-dir", str(root / "onnx"), "-q"]  # fmt: skip
    assert device_kit.main(args) == 0
    return kit_dir


def run_kit(kit: Path, out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """run_kit.py in a fresh process of this Python, with ``OUT=out``."""
    wrapper = out.parent / "wrapper.py"
    wrapper.write_text(WRAPPER)
    command = [sys.executable, str(wrapper), str(kit / "run_kit.py"), *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=out.parent,
                          env={**_env(), "OUT": str(out)}, timeout=600, check=False)  # fmt: skip
    found = [ln for ln in done.stdout.splitlines() if ln.startswith("WRAPPER ")]
    return done, json.loads(found[-1].removeprefix("WRAPPER ")) if found else None


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("TVM_", "PYTHON"))}


# -- the kit ----------------------------------------------------------------------------------


def test_kit_layout(kit: Path) -> None:
    index = json.loads((kit / "kit.json").read_text())
    assert index["format"] == "fftc-device-kit"
    assert (index["device"], index["python"], index["batch"], index["heads"]) == (
        "cpu", host_python(), 2, 4
    )  # fmt: skip
    assert [a["label"] for a in index["artifacts"]] == ["L=64 fp32", "L=64 fp16"]
    assert index["reference"]["flashfftconv_h100_ms"]["32768"] == 26.3
    for entry in index["artifacts"]:
        assert entry["variant"] == "default"
        with zipfile.ZipFile(kit / entry["file"]) as zf:
            manifest = json.loads(zf.read("manifest.json"))
        assert [s["name"] for s in manifest["inputs"]] == ["u", "pre", "post", "K"]
        assert manifest["inputs"][3]["shape"] == [4, 65, 2]  # the spectrum: an input
    assert (kit / "run_kit.py").read_text() == (BENCH / "kit_runner.py").read_text()
    assert (kit / "kit_report.py").read_text() == (BENCH / "kit_report.py").read_text()
    assert "python3 run_kit.py --out $OUT" in (kit / "README.txt").read_text()
    runtime = kit / "python"
    assert (runtime / "tvm" / "lib" / "libtvm_runtime.so").is_file()
    assert not (runtime / "tvm" / "lib" / COMPILER_LIBRARY).exists()
    assert not any((runtime / "tvm" / name).exists() for name in TVM_EXCLUDED)
    assert not list(runtime.rglob("__pycache__"))
    assert {p.name for p in runtime.iterdir()} >= {"tvm", "tvm_ffi", "ml_dtypes"}
    size = sum(p.stat().st_size for p in kit.rglob("*") if p.is_file())
    assert size < device_kit.MAX_KIT_BYTES


def test_runner_imports_no_fftc() -> None:
    for name in ("kit_runner.py", "kit_report.py"):
        text = (BENCH / name).read_text()
        assert not re.search(r"^\s*(import|from)\s+fftc\b", text, re.MULTILINE), name


def test_run_kit_on_the_cpu(kit: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done, seen = run_kit(kit, out, "--repeat", "2", "--warmup", "1")
    assert seen is not None, done.stderr[-3000:]
    assert seen["code"] in (0, None), done.stdout[-3000:] + done.stderr[-3000:]
    assert seen["fftc"] == []  # the runner never imported fftc
    assert Path(seen["tvm"]).resolve().is_relative_to((kit / "python").resolve())
    assert "tvm_compiler" not in seen["libs"]  # runtime only
    results = json.loads((out / "kit-results.json").read_text())
    assert results["format"] == "fftc-device-kit-results/1"
    assert results["complete"] is True
    assert [c["case"] for c in results["cases"]] == ["L=64 fp32", "L=64 fp16"]
    for case in results["cases"]:
        assert case["fftc"]["status"] == "ok"
        assert case["fftc"]["max_rel_err"] <= case["rtol"]
        assert not case["fftc"]["flag"]
        assert case["torch"]
        assert all(m["status"] == "ok" for m in case["torch"].values())
        assert case["floor_ms"] > 0
        assert case["flashfftconv_h100_ms"] is None
    assert results["cases"][1]["rtol"] == 1e-2  # fp16
    table = (out / "kit-results.md").read_text()
    assert table.startswith("| case | fftc ms |")
    assert "| L=64 fp16 |" in table
    assert "| L=64 fp16 |" in done.stdout


def test_run_kit_errors(kit: Path, tmp_path: Path) -> None:
    done, seen = run_kit(kit, tmp_path / "out", "--only", "L=999*")
    assert seen is None or seen["code"] == 1
    assert (
        "run_kit.py: error: --only L=999* matches no artifact; the kit has: L=64 fp32"
        in done.stderr
    )
    assert "Traceback" not in done.stderr
    listed = subprocess.run([sys.executable, str(kit / "run_kit.py"), "--list"],
                            capture_output=True, text=True, check=True, env=_env())  # fmt: skip
    assert listed.stdout.split("\n")[0] == "L=64 fp32: artifacts/L64-fp32.fftc"


def test_kit_report_columns() -> None:
    reference = device_kit.reference_numbers()
    fast = kit_report.measured([0.2, 0.25, 0.3], 1e-3, 1e-2)
    off = kit_report.measured([0.1], 0.5, 1e-2)
    slow = kit_report.measured([0.5], 0.0, 1e-2)
    row: dict[str, Any] = {"case": "L=1024 fp16", "L": 1024, "dtype": "fp16", "B": 64, "H": 768}
    row.update(
        compile_s=38.4, fftc=fast, torch={"cuFFT fp16": off, "cuFFT fp32, inputs cast": slow}
    )
    rate = kit_report.nominal_bandwidth(reference, "NVIDIA H100 80GB HBM3")
    assert rate == (3.35e12, "H100 SXM nominal")
    kit_report.add_columns(row, reference, rate[0])
    assert row["torch_best"] == "cuFFT fp32, inputs cast"  # the flagged one is never best
    assert row["speedup"] == pytest.approx(2.0)
    assert row["flashfftconv_h100_ms"] == 0.29
    assert row["floor_ms"] == pytest.approx(2 * 64 * 768 * 1024 * 2 / 3.35e12 * 1e3)
    text = kit_report.table([row], "H100 SXM nominal")
    assert (
        "| L=1024 fp16 | 0.25 | 38 | 0.5 (cuFFT fp32, inputs cast) | 2.00x | 0.29 | 0.0601 |"
        in text
    )
    assert kit_report.explanations([row]) == [
        "L=1024 fp16 cuFFT fp16: 0.1 ms, max rel err 5.00e-01 (over the tolerance)"
    ]


# -- arguments and the destination -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "abc"], "--sizes 'abc': give positive integers"),
        (["--sizes", "1000"], "--sizes: 1000 is not a power of two"),
        (["--dtypes", "fp8"], "--dtypes 'fp8': use some of fp16, bf16, fp32"),
        (["--arch", "sm_91"], "unknown CUDA arch 'sm_91'"),
        (["--python", "3"], "--python '3': give the device's Python as MAJOR.MINOR"),
        (["--batch", "0"], "--batch '0': give one positive integer"),
        (["--heads", "x"], "--heads 'x': give one positive integer"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["build", str(tmp_path / "kit"), *args]) == 2
    err = capsys.readouterr().err
    assert f"fftc: error: {message}" in err or (message in err and "fftc: error:" in err)
    assert "Traceback" not in err
    assert not (tmp_path / "kit").exists()


def test_bad_destinations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile, other, old_kit = tmp_path / "file", tmp_path / "other", tmp_path / "old"
    afile.write_text("x")
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    old_kit.mkdir()
    (old_kit / "kit.json").write_text("{}")
    cases = [
        ([], "the following arguments are required: COMMAND"),
        (["build"], "the following arguments are required: KIT_DIR"),
        (["build", str(afile)], "exists and is not a folder"),
        (["build", str(tmp_path / "no" / "kit")], "no such folder"),
        (["build", str(other), "--force"], "a folder that is not a device kit; not replacing it"),
        (["build", str(old_kit)], "a kit exists there; pass --force to replace it"),
    ]
    for argv, message in cases:
        assert run_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"fftc: error: {message}" in err or ("fftc: error:" in err and message in err)
        assert "Traceback" not in err
    assert (other / "notes.txt").read_text() == "mine"
    device_kit.check_destination(old_kit, force=True)  # replaceable with --force


def test_replace_keeps_the_old_kit_until_the_new_one_is_complete(tmp_path: Path) -> None:
    kit, staging = tmp_path / "kit", tmp_path / ".kit.building"
    kit.mkdir()
    (kit / "kit.json").write_text("old")
    staging.mkdir()
    (staging / "kit.json").write_text("new")
    device_kit._replace(kit, staging)
    assert (kit / "kit.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"]


def test_size_limit(tmp_path: Path) -> None:
    (tmp_path / "artifacts").mkdir()
    with open(tmp_path / "artifacts" / "big.fftc", "wb") as f:
        f.truncate(device_kit.MAX_KIT_BYTES + 1)  # sparse: no disk space used
    with pytest.raises(FftcError, match=r"the kit would be 60\.0 MiB, over the 60 MiB .*"
                                        r"largest: artifacts 60\.0 MiB"):  # fmt: skip
        device_kit.check_size(tmp_path)


# -- the runtime for another Python -----------------------------------------------------------


def _fake_wheel(folder: Path, python: str) -> Path:
    tag = "cp" + python.replace(".", "")
    version = installed_version("apache-tvm-ffi")
    wheel = folder / f"apache_tvm_ffi-{version}-{tag}-{tag}-manylinux_2_28_x86_64.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("tvm_ffi/__init__.py", "")
        zf.writestr(f"tvm_ffi/core.cpython-{tag[2:]}-x86_64-linux-gnu.so", "binary")
        zf.writestr("tvm_ffi/include/tvm/ffi/any.h", "")
        zf.writestr("tvm_ffi/__pycache__/x.pyc", "")
        zf.writestr(f"apache_tvm_ffi-{version}.dist-info/METADATA", "")
    return wheel


def test_wheels_come_from_the_cache_without_pip(tmp_path: Path) -> None:
    wheel = _fake_wheel(tmp_path / "wheels", "3.99")
    found = ensure_wheel(
        "apache-tvm-ffi", installed_version("apache-tvm-ffi"), "3.99", tmp_path / "wheels"
    )
    assert found == wheel
    extract_package(found, PACKAGES[1], tmp_path / "python")
    files = sorted(
        str(p.relative_to(tmp_path / "python"))
        for p in (tmp_path / "python").rglob("*")
        if p.is_file()
    )
    assert files == ["tvm_ffi/__init__.py", "tvm_ffi/core.cpython-399-x86_64-linux-gnu.so"]


def test_a_wheel_pip_cannot_get_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip pointed at an index that refuses connections (no network needed)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(FftcError, match=r"^could not download the Python 3\.12 wheel of "
                                        r"apache-tvm-ffi==0\.0\.0\.dev0 for manylinux_2_28_x86_64 "
                                        r"\(pip: .*\); the kit's runtime needs it"):  # fmt: skip
        ensure_wheel("apache-tvm-ffi", "0.0.0.dev0", "3.12", tmp_path / "wheels")


def test_runtime_for_another_python(tmp_path: Path) -> None:
    """The real cp3XX wheels (skipped when pip cannot reach the index)."""
    python = "3.12" if host_python() != "3.12" else "3.11"
    try:
        info = assemble_runtime(tmp_path / "python", python, cuda=False, wheel_dir=tmp_path / "w")
    except FftcError as err:
        if "could not download" in str(err):
            pytest.skip(f"pip cannot download wheels here: {err}")
        raise
    tag = python.replace(".", "")
    assert list((tmp_path / "python" / "tvm_ffi").glob(f"core.cpython-{tag}-*.so"))
    assert list((tmp_path / "python" / "ml_dtypes").glob(f"*.cpython-{tag}-*.so"))
    assert not list((tmp_path / "python").rglob(f"*cpython-{host_python().replace('.', '')}*"))
    assert "from apache_tvm_ffi-" in info.packages["apache-tvm-ffi"]


def test_cuda_runtime_library(tmp_path: Path) -> None:
    tvm_lib = tmp_path / "lib"
    tvm_lib.mkdir()
    installed = next(p for p in PACKAGES if p.module == "tvm")
    from importlib import metadata

    source = Path(
        str(metadata.distribution(installed.dist).locate_file("tvm/lib/libtvm_runtime_cuda.so"))
    )
    if not source.is_file():
        pytest.skip("this TVM has no CUDA runtime library")
    (tvm_lib / source.name).write_bytes(source.read_bytes())
    soname = cudart_soname(tvm_lib / source.name)
    assert re.fullmatch(r"libcudart\.so\.\d+", soname)
    info = RuntimeInfo("3.12")
    add_cuda_runtime(tvm_lib, info)
    if find_cuda_library(soname) is None:
        assert info.cudart is None
        assert soname in info.notes[0]
    else:
        assert (tvm_lib / soname).is_file()
        assert info.cudart
        assert soname in info.cudart


def test_cuda_kits_build_the_staged_variant_too() -> None:
    """Every length: the default (fused: one kernel at N = 2L <= 4096, three beyond) build
    and the staged one (``fused=False``), so the device times both."""
    spec = device_kit.KitSpec("cuda:sm_90", (1024, 4096), ("fp16",), 64, 768, "3.12")
    cases = spec.cases()
    labels = ["L=1024 fp16", "L=1024 fp16 staged", "L=4096 fp16", "L=4096 fp16 staged"]
    assert [c.label for c in cases] == labels
    assert [c.slug for c in cases] == [
        "L1024-fp16", "L1024-fp16-staged", "L4096-fp16", "L4096-fp16-staged"
    ]  # fmt: skip
    assert [c.knobs() for c in cases] == [{}, {"fused": False}, {}, {"fused": False}]
    no_staged = device_kit.KitSpec("cuda:sm_90", (1024,), ("fp16",), 64, 768, "3.12", staged=False)
    assert [c.label for c in no_staged.cases()] == ["L=1024 fp16"]
