"""``fftc tune`` as users run it: tuning, resuming, applying logs, errors, Ctrl-C, RPC."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from fftc.target import parse_target
from fftc.testing.onnx_builder import graph_model
from fftc.tune.log import META, TuningLog
from fftc.tune.search import measured_keys
from fftc.tune.tasks import extract_tasks

from .conftest import fftc_cli

SPEC = parse_target("llvm")


@pytest.fixture(scope="module")
def dft_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One kernel task (an rfft): tuned by the knob grid, quickly."""
    x = np.zeros((4, 64), np.float32)
    nodes = [
        helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
        helper.make_node("DFT", ["u", "", "axis"], ["y"], onesided=1),
    ]
    consts: dict[str, np.ndarray] = {"ax": np.array([-1], np.int64), "axis": np.array(1, np.int64)}
    path = tmp_path_factory.mktemp("dft") / "dft.onnx"
    onnx.save(graph_model(nodes, {"x": x}, ["y"], consts, name="dft"), str(path))
    return path


@pytest.fixture(scope="module")
def tuned_log(tiny_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    log = tmp_path_factory.mktemp("logs") / "tiny-log"
    r = fftc_cli("tune", str(tiny_path), "--log", str(log), "--trials", "4",
                 "--trials-per-batch", "2", "--cost-model", "random")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "model (compiled, median)" in r.stdout
    assert "[   " in r.stderr  # progress lines
    return log


def _all_keys(path: Path, model: Path) -> list[int]:
    records = TuningLog.open(path, SPEC).records()
    keys: list[int] = []
    for task in extract_tasks(model, SPEC):
        keys += measured_keys(task, [r for r in records if r.workload.mod is not None])
    return keys


def test_help_documents_every_option():
    r = fftc_cli("tune", "--help")
    assert r.returncode == 0
    for option in ("--list-tasks", "--log", "--trials", "--trials-per-batch", "--time-budget",
                   "--rpc-tracker", "--rpc-key", "--builders", "--cost-model", "--seed",
                   "--target", "--input-shape", "--no-compute-search", "--fft-max-radix",
                   "--task-scheduler",
                   "examples:"):  # fmt: skip
        assert option in r.stdout, option


def test_list_tasks(tiny_path: Path):
    r = fftc_cli("tune", str(tiny_path), "--list-tasks", "-q")
    assert r.returncode == 0, r.stderr
    assert "fused_matmul_relu" in r.stdout
    assert "knob sets + MetaSchedule rules" in r.stdout
    assert "share:" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tune", "missing.onnx"], "no such file"),
        (["tune", "{model}", "--trials", "0"], "--trials must be at least 1"),
        (["tune", "{model}", "--time-budget", "-1"], "--time-budget must be positive"),
        (["tune", "{model}", "--rpc-key", "k"], "--rpc-key needs --rpc-tracker"),
        (["tune", "{model}", "--rpc-tracker", "nohost", "--rpc-key", "k"], "expected HOST:PORT"),
        (["compile", "{model}", "-o", "{out}", "--tuning-log", "nolog"], "no such tuning log"),
    ],
)
def test_bad_input_is_a_clear_error(dft_path: Path, tmp_path: Path, args: list[str], message: str):
    argv = [a.format(model=dft_path, out=tmp_path / "m.fftc") for a in args]
    r = fftc_cli(*argv)
    assert r.returncode == 2, r.stderr
    assert "fftc: error:" in r.stderr
    assert message in r.stderr


def test_resume_never_remeasures(tiny_path: Path, tuned_log: Path, tmp_path: Path):
    log = tmp_path / "log"
    shutil.copytree(tuned_log, log)
    before = len(TuningLog.open(log, SPEC).records())
    assert before >= 4
    r = fftc_cli("tune", str(tiny_path), "--log", str(log), "--trials", "4",
                 "--trials-per-batch", "2", "--cost-model", "random")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "already in the log" in r.stderr
    assert len(TuningLog.open(log, SPEC).records()) > before
    keys = _all_keys(log, tiny_path)
    assert len(keys) == len(set(keys))  # no candidate was measured twice


def test_compile_applies_the_log_and_says_which(tiny_path: Path, tuned_log: Path, tmp_path: Path):
    chosen = TuningLog.open(tuned_log, SPEC).compute_options  # the tune run searched them
    assert chosen is not None
    assert set(chosen) == {"fft_max_radix"}
    r = fftc_cli("inspect", str(tiny_path), "--explain", "--tuning-log", str(tuned_log))
    assert r.returncode == 0, r.stderr
    assert "[tune]" in r.stdout
    assert f"compute knobs from the tuning log: fft_max_radix={chosen['fft_max_radix']}" in r.stdout
    out = tmp_path / "m.fftc"
    r = fftc_cli("compile", str(tiny_path), "-o", str(out), "--tuning-log", str(tuned_log))
    assert r.returncode == 0, r.stderr
    assert out.is_file()
    r = fftc_cli("verify", str(tiny_path), "--tuning-log", str(tuned_log))
    assert r.returncode == 0, r.stdout + r.stderr


def test_log_of_another_target_is_refused(tiny_path: Path, tuned_log: Path, tmp_path: Path):
    log = tmp_path / "other"
    shutil.copytree(tuned_log, log)
    meta = json.loads((log / META).read_text())
    meta["target"] = "llvm:some-other-cpu"
    (log / META).write_text(json.dumps(meta))
    r = fftc_cli(
        "compile", str(tiny_path), "-o", str(tmp_path / "m.fftc"), "--tuning-log", str(log)
    )
    assert r.returncode == 2
    assert "fftc: error:" in r.stderr
    assert "is for target llvm:some-other-cpu" in r.stderr


def test_ctrl_c_keeps_the_log(dft_path: Path, tmp_path: Path):
    log = tmp_path / "log"
    cmd = [sys.executable, "-m", "fftc", "tune", str(dft_path), "--log", str(log),
           "--trials", "400", "--trials-per-batch", "1", "--cost-model", "random"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the first measured batch
            if "trials" in line and "[" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert len(TuningLog.open(log, SPEC).records()) >= 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_server(
    port: int, key: str, procs: list[subprocess.Popen[bytes]], timeout: float = 120
) -> None:
    from tvm import rpc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"{proc.args!r} exited with status {proc.returncode}"
        try:
            queue = rpc.connect_tracker("127.0.0.1", port).summary()["queue_info"]
            if queue.get(key, {}).get("free", 0) >= 1:
                return
        except Exception:
            pass
        time.sleep(1)
    raise TimeoutError("the RPC server did not register with the tracker")


def test_tune_through_rpc_on_loopback(dft_path: Path, tmp_path: Path):
    port = _free_port()
    key = "fftc-test"
    tracker = subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host",
                                "127.0.0.1", "--port", str(port), "--port-end", str(port + 1)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    server = None
    try:
        server = subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_server", "--host",
                                   "127.0.0.1", "--tracker", f"127.0.0.1:{port}", "--key", key],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        _wait_for_server(port, key, [tracker, server])
        log = tmp_path / "log"
        r = fftc_cli("tune", str(dft_path), "--log", str(log), "--trials", "3",
                     "--rpc-tracker", f"127.0.0.1:{port}", "--rpc-key", key)  # fmt: skip
        assert r.returncode == 0, r.stderr
        records = TuningLog.open(log, SPEC).records()
        assert len(records) == 3
        assert any(float(r.run_secs[0]) < 1.0 for r in records)  # measured, not failed
    finally:
        for proc in (server, tracker):
            if proc is not None:
                proc.kill()
                proc.wait(timeout=30)


def _cli_with_shipped(shipped: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FFTC_TUNING_LOGS": str(shipped)}
    return subprocess.run([sys.executable, "-m", "fftc", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False)  # fmt: skip


@pytest.mark.parametrize("batch", [["--trials-per-batch", "2"], []], ids=["batch2", "default"])
def test_round_robin_gives_every_metaschedule_task_trials(
    tiny_path: Path, tmp_path: Path, batch: list[str]
):
    """The gradient scheduler may starve a task (the tiny model's reshape gets none at
    this budget); round-robin hands the trials out in turn. The 3 trials the rfft's knob
    grid leaves would be one batch for one task with the default batch (32), and one
    batch of 2 and one of 1 with batches of 2: the batches shrink to 1."""
    r = fftc_cli("tune", str(tiny_path), "--log", str(tmp_path / "rr"), "--trials", "6",
                 *batch, "--cost-model", "random", "--no-compute-search",
                 "--task-scheduler", "round-robin")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "batches of 1, so that every task gets one" in r.stderr  # 3 trials, 2 tasks
    trials = {line.split()[0]: int(line.split()[2]) for line in r.stdout.splitlines()
              if line.startswith(("fused_matmul_relu ", "reshape "))}  # fmt: skip
    assert set(trials) == {"fused_matmul_relu", "reshape"}
    assert all(n > 0 for n in trials.values()), trials


def test_shipped_logs_apply_for_their_target_only(tiny_path: Path, tuned_log: Path, tmp_path):
    """A log in the shipped directory applies without --tuning-log; --no-shipped-logs
    turns it off; a shipped log for another target is skipped silently."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copytree(tuned_log, shipped / "tiny-log")
    r = _cli_with_shipped(shipped, "inspect", str(tiny_path), "--explain")
    assert r.returncode == 0, r.stderr
    assert "shipped tuning logs for llvm:" in r.stdout
    assert "tiny-log" in r.stdout
    # The shipped log gives what --tuning-log gives: its compute knobs (they shape the
    # graph, so without them a log tuned at another radix would match nothing) and the
    # same tuned functions.  (Which tasks beat their default varies between runs.)
    chosen = TuningLog.open(tuned_log, SPEC).compute_options
    assert chosen
    knobs = ", ".join(f"{k}={v}" for k, v in sorted(chosen.items()))
    assert f"compute knobs from the shipped tuning log tiny-log: {knobs}" in r.stdout
    explicit = fftc_cli("inspect", str(tiny_path), "--explain", "--tuning-log", str(tuned_log))
    assert explicit.returncode == 0, explicit.stderr

    def tuned_functions(out: str, phrase: str) -> set[str]:
        return {line.split("]")[1].split(":")[0].strip() for line in out.splitlines()
                if line.endswith(phrase)}  # fmt: skip

    from_log = tuned_functions(explicit.stdout, "schedule from the tuning log")
    assert from_log == tuned_functions(r.stdout, "schedule from the shipped tuning log")
    assert "not in the shipped tuning logs" not in "".join(
        line for line in r.stdout.splitlines() if any(f in line for f in from_log)
    )
    r = _cli_with_shipped(shipped, "inspect", str(tiny_path), "--explain", "--no-shipped-logs")
    assert r.returncode == 0, r.stderr
    assert "[tune]" not in r.stdout
    meta = json.loads((shipped / "tiny-log" / META).read_text())
    meta["target"] = "llvm:some-other-cpu"
    (shipped / "tiny-log" / META).write_text(json.dumps(meta))
    r = _cli_with_shipped(shipped, "inspect", str(tiny_path), "--explain")
    assert r.returncode == 0, r.stderr
    assert "[tune]" not in r.stdout


def test_inspect_tir_applies_the_tuning_log(tiny_path: Path, tuned_log: Path):
    r = fftc_cli("inspect", str(tiny_path), "--stage", "tir", "--tuning-log", str(tuned_log))
    assert r.returncode == 0, r.stderr
    assert "T.prim_func" in r.stdout
    r = fftc_cli("inspect", str(tiny_path), "--stage", "tir", "--tuning-log", "no-such-log")
    assert r.returncode == 2
    assert "no such tuning log" in r.stderr


def test_ship_keeps_the_best_record_per_task(tuned_log: Path, tmp_path: Path):
    from tvm_ffi import structural_hash

    from fftc.tune.ship import main as ship_main

    def key(record):
        return structural_hash(record.workload.mod)

    into = tmp_path / "shipped"
    assert ship_main([str(tuned_log), "--into", str(into)]) == 0
    shipped = TuningLog.open(into / tuned_log.name, SPEC)
    records = shipped.records()
    workloads = {key(r) for r in records}
    assert len(records) == len(workloads)
    assert len(records) < len(TuningLog.open(tuned_log, SPEC).records())

    def mean(record):  # MetaSchedule ranks records by their mean run time
        return sum(float(t) for t in record.run_secs) / len(record.run_secs)

    best: dict[int, float] = {}
    for r in TuningLog.open(tuned_log, SPEC).records():
        if r.run_secs:
            best[key(r)] = min(best.get(key(r), mean(r)), mean(r))
    assert all(mean(r) <= best[key(r)] * (1 + 1e-9) for r in records)
    assert ship_main([str(tuned_log), "--into", str(into)]) == 2  # never overwrites
    original = TuningLog.open(tuned_log, SPEC)
    assert shipped.compute_options == original.compute_options  # the records need them
    assert shipped.models == original.models
    assert shipped.keep_default == original.keep_default
