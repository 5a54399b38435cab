"""Shared by the robustness tests: small models, the CLI in a subprocess, and
``fftc.compile`` in a sandboxed child (address-space limit and timeout), so that a
regression that allocates or hangs fails the test instead of taking the machine down."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from fftc.testing.onnx_builder import graph_model

#: address-space limit of sandboxed children (TVM itself needs ~1.2 GiB of it)
MEMORY_LIMIT = 2 << 30
#: a bad model must be refused within this many seconds (TVM's import takes ~3 s)
FAST_SECONDS = 20.0
#: what an error message must never show
NOT_CLEAN = ("Traceback", "internal error", "please report", "an fftc bug", "bad_alloc")

X = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)


def relu_model(shape: Sequence[int] = (2, 3)) -> onnx.ModelProto:
    """x -> Relu -> y, node 'relu'."""
    x = np.zeros(tuple(shape), np.float32)
    return graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": x}, ["y"])


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def child_env(tmpdir: Path | None = None) -> dict[str, str]:
    """One TVM thread and few malloc arenas keep the address space predictable."""
    env = {**os.environ, "TVM_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def fftc_cli(
    *args: str,
    cwd: Path | None = None,
    tmpdir: Path | None = None,
    sandbox: bool = False,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m fftc ARGS``; ``sandbox`` adds the memory limit."""
    return subprocess.run(
        [sys.executable, "-m", "fftc", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(tmpdir),
        timeout=timeout,
        preexec_fn=_limit_memory if sandbox else None,
        check=False,
    )


def assert_cli_error(
    r: subprocess.CompletedProcess[str], *needles: str, codes: Sequence[int] = (1, 2)
) -> None:
    """Exit status in ``codes``, an ``fftc: error:`` line naming every needle, no traceback."""
    assert r.returncode in codes, (r.returncode, r.stdout, r.stderr)
    assert "fftc: error:" in r.stderr, r.stderr
    for bad in NOT_CLEAN:
        assert bad not in r.stderr + r.stdout, r.stderr
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)


def assert_clean_message(message: str, *needles: str) -> None:
    for bad in NOT_CLEAN:
        assert bad not in message, message
    for needle in needles:
        assert needle in message, (needle, message)


@dataclass(frozen=True)
class Outcome:
    """What a sandboxed compile did: ``ok``, ``fftc`` (an FftcError), ``other`` (another
    exception), ``crash`` (no result: a signal or an exit) or ``timeout``."""

    status: str
    error_type: str
    message: str
    seconds: float


_COMPILE = """
import json, sys, time
t0 = time.perf_counter()
try:
    import fftc
    from fftc.errors import FftcError
    fftc.compile(sys.argv[1], **json.loads(sys.argv[2]))
    r = {"status": "ok", "error_type": "", "message": ""}
except FftcError as err:
    r = {"status": "fftc", "error_type": type(err).__name__, "message": str(err)}
except BaseException as err:
    r = {"status": "other", "error_type": type(err).__name__, "message": str(err)}
r["seconds"] = time.perf_counter() - t0
print("RESULT " + json.dumps(r))
"""


def compile_sandboxed(
    model: onnx.ModelProto, folder: Path, timeout: float = 120, **kwargs: object
) -> Outcome:
    """``fftc.compile`` in a child with ``MEMORY_LIMIT`` of address space and a timeout."""
    path = save(model, folder / "model.onnx")
    try:
        r = subprocess.run(
            [sys.executable, "-c", _COMPILE, str(path), json.dumps(kwargs)],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=timeout,
            preexec_fn=_limit_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome("timeout", "", f"no result after {timeout} s", float(timeout))
    lines = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        how = f"signal {-r.returncode}" if r.returncode < 0 else f"exit status {r.returncode}"
        return Outcome("crash", how, r.stderr[-2000:], float("nan"))
    return Outcome(**json.loads(lines[-1].removeprefix("RESULT ")))
