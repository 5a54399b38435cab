"""The command line as users run it (subprocesses): outputs, exit codes, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from fftc.testing.onnx_builder import graph_model

X = np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)


def fftc_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fftc", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nodes = [
        helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
        helper.make_node("DFT", ["u", "", "one"], ["f"], onesided=1),
        helper.make_node("ReduceL2", ["f", "last"], ["y"], keepdims=0),
    ]
    consts = {
        "ax": np.array([-1], np.int64),
        "one": np.array(1, np.int64),
        "last": np.array([-1], np.int64),
    }
    path = tmp_path_factory.mktemp("cli") / "spectrum.onnx"
    onnx.save(graph_model(nodes, {"x": X}, ["y"], consts), str(path))
    return path


def test_help_everywhere():
    for args in ([], ["compile"], ["run"], ["verify"], ["inspect"]):
        r = fftc_cli(*args, "--help")
        assert r.returncode == 0, args
        assert "usage:" in r.stdout
        if args:
            assert "examples:" in r.stdout


def test_compile_run_verify_inspect(model_path: Path, tmp_path: Path):
    artifact = tmp_path / "m.fftc"
    r = fftc_cli("compile", str(model_path), "-o", str(artifact))
    assert r.returncode == 0, r.stderr
    assert artifact.is_file()
    assert "fftc: spectrum.onnx: codegen" in r.stderr  # a progress line per step

    np.savez(tmp_path / "in.npz", x=X)
    r = fftc_cli("run", str(artifact), "--inputs", str(tmp_path / "in.npz"), "--out",
                 str(tmp_path / "out.npz"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    expected = np.abs(np.fft.rfft(X.astype(np.float64), axis=1))
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_allclose(out["y"], expected, rtol=1e-5, atol=1e-5)

    r = fftc_cli("verify", str(model_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout
    assert "max rel err" in r.stdout

    r = fftc_cli("inspect", str(model_path), "--stage", "simplify")
    assert r.returncode == 0, r.stderr
    assert "dft(" in r.stdout
    r = fftc_cli("inspect", str(model_path), "--stage", "tir")
    assert "T.prim_func" in r.stdout
    r = fftc_cli("inspect", str(artifact))
    assert '"library_sha256"' in r.stdout
    r = fftc_cli("inspect", str(model_path), "--explain")
    assert "rfft n=16" in r.stdout, r.stdout


def test_outputs_are_never_overwritten_without_force(model_path: Path, tmp_path: Path):
    existing = tmp_path / "m.fftc"
    existing.write_text("precious")
    r = fftc_cli("compile", str(model_path), "-o", str(existing))
    assert r.returncode == 2
    assert "already exists; pass --force" in r.stderr
    assert existing.read_text() == "precious"
    r = fftc_cli("compile", str(model_path), "-o", str(existing), "--force", "-q")
    assert r.returncode == 0
    assert existing.read_bytes().startswith(b"PK")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["compile", "missing.onnx", "-o", "x.fftc"], 2, "missing.onnx: no such file"),
        (["compile"], 2, "the following arguments are required"),
        (["frobnicate"], 2, "invalid choice"),
        (["run", "missing.fftc", "--random"], 1, "no such artifact file"),
        (["inspect", "missing.onnx"], 2, "no such file"),
        (["verify", "m.onnx", "--rtol", "-1"], 1, "--rtol must be positive"),
        (["compile", "m.onnx", "-o", "m.fftc", "--target", "tpu"], 2, "unknown target"),
        (["compile", "m.onnx", "-o", "m.fftc", "--input-shape", "x=a,b"], 2, "NAME=D1,D2"),
    ],
)
def test_errors_are_one_line_with_exit_status(tmp_path: Path, model_path: Path, args, code,
                                              message):  # fmt: skip
    (tmp_path / "m.onnx").write_bytes(model_path.read_bytes())
    r = fftc_cli(*args, cwd=tmp_path)
    assert r.returncode == code, r.stderr
    assert "fftc: error:" in r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_model_and_bad_inputs(tmp_path: Path, model_path: Path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 50)
    r = fftc_cli("verify", str(bad))
    assert r.returncode == 1
    assert "bad.onnx" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr

    artifact = tmp_path / "m.fftc"
    assert fftc_cli("compile", str(model_path), "-o", str(artifact), "-q").returncode == 0
    np.savez(tmp_path / "wrong.npz", x=np.zeros((3, 16), np.float32))
    r = fftc_cli("run", str(artifact), "--inputs", str(tmp_path / "wrong.npz"))
    assert r.returncode == 2
    assert "input 'x': got float32[3, 16], the model takes float32[2, 16]" in r.stderr


def test_verify_falls_back_to_the_onnx_reference(tmp_path: Path):
    """An opset-27 model: onnxruntime up to 1.31 cannot load it and verify falls back to
    ONNX's reference evaluator (and says so); 1.32 runs it."""
    import onnxruntime as ort

    from tests.onnx_cases import causal_conv_cases

    model = causal_conv_cases()[0].model
    path = tmp_path / "causal.onnx"
    onnx.save(model, str(path))
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        expected = "onnxruntime"
    except Exception:  # whatever onnxruntime raises for an opset newer than it knows
        expected = "onnx-reference"
    r = fftc_cli("-q", "verify", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    # the fallback is said; onnxruntime, the default reference, is not
    assert ("compared with onnx-reference" in r.stdout) == (expected == "onnx-reference")


def test_reference_falls_back_when_onnxruntime_refuses(monkeypatch: pytest.MonkeyPatch):
    """The fallback itself, whatever the installed onnxruntime supports."""
    import fftc.testing as testing
    from tests.onnx_cases import causal_conv_cases

    case = causal_conv_cases()[0]
    feeds = testing.random_inputs(case.model, 0, {})
    want, _ = testing.reference_outputs(case.model, feeds)

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("onnxruntime: unsupported opset")

    monkeypatch.setattr(testing, "run_onnxruntime", refuse)
    got, which = testing.reference_outputs(case.model, feeds)
    assert which == "onnx-reference"
    for name, value in want.items():
        testing.assert_close(got[name], value, 1e-5, name)


def test_python_dash_m_and_console_script_agree():
    r = subprocess.run(["fftc", "--version"], capture_output=True, text=True, check=False)
    assert r.returncode == 0
    assert r.stdout.strip() == fftc_cli("--version").stdout.strip()
