"""Measuring: MetaSchedule builders and runners (local or RPC), and in-process timing.

Tuning measures candidates with MetaSchedule's builder (compiles, one worker
per local core) and runner (local, or through a TVM RPC tracker).  The
report's default-vs-tuned table times both versions of a task *in this
process* the same way (:func:`time_task`), and checks that they compute the
same outputs on the same random inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fftc.codegen.tvm_api import Target, ir, meta_schedule, tirx, tvm, tvm_runtime
from fftc.errors import UsageError
from fftc.threads import usable_cpus

#: timing of one candidate: ``number`` runs per measurement, at least ``min_repeat_ms``
NUMBER, REPEAT, MIN_REPEAT_MS = 3, 3, 20


def parse_tracker(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of an RPC tracker."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--rpc-tracker {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9190")
    return host, int(port)


def evaluator_config() -> Any:
    return meta_schedule.runner.EvaluatorConfig(
        number=NUMBER, repeat=REPEAT, min_repeat_ms=MIN_REPEAT_MS, enable_cpu_cache_flush=False
    )


def make_builder(workers: int | None = None) -> Any:
    """Compiles candidates in ``workers`` processes (default: every usable core)."""
    return meta_schedule.builder.LocalBuilder(max_workers=workers or usable_cpus(), timeout_sec=60)


def make_runner(
    rpc_tracker: str | None = None, rpc_key: str | None = None, workers: int = 1
) -> Any:
    """A local runner, or an RPC runner through a tracker (``HOST:PORT``) for ``rpc_key``."""
    if rpc_tracker is None:
        if rpc_key is not None:
            raise UsageError("--rpc-key needs --rpc-tracker HOST:PORT")
        return meta_schedule.runner.LocalRunner(timeout_sec=60, evaluator_config=evaluator_config())
    if not rpc_key:
        raise UsageError("--rpc-tracker needs --rpc-key KEY (the key the RPC servers registered)")
    host, port = parse_tracker(rpc_tracker)
    config = meta_schedule.runner.RPCConfig(
        tracker_host=host, tracker_port=port, tracker_key=rpc_key, session_timeout_sec=60
    )
    return meta_schedule.runner.RPCRunner(
        rpc_config=config, evaluator_config=evaluator_config(), max_workers=workers
    )


def check_tracker(rpc_tracker: str, rpc_key: str) -> int:
    """How many servers the tracker has for ``rpc_key`` (a clear error if it is unreachable)."""
    from tvm import rpc

    host, port = parse_tracker(rpc_tracker)
    try:
        summary = rpc.connect_tracker(host, port).summary()
    except Exception as err:  # refused, timed out, not a tracker
        raise UsageError(f"cannot reach the RPC tracker at {rpc_tracker}: {err}") from None
    queue = summary.get("queue_info", {}).get(rpc_key, {})
    return int(queue.get("free", 0)) + int(queue.get("pending", 0))


@dataclass
class Timing:
    """In-process time of one PrimFunc (milliseconds) and its outputs on fixed inputs."""

    ms: float
    outputs: list[np.ndarray]


def _arguments(func: tirx.PrimFunc, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    args = []
    for info in meta_schedule.arg_info.ArgInfo.from_prim_func(func):
        shape = [int(d) for d in info.shape]
        dtype = str(info.dtype)
        if dtype.startswith("float"):
            args.append(rng.standard_normal(shape).astype(dtype))
        else:  # indices: zeros are in range for any gather
            args.append(np.zeros(shape, dtype=dtype))
    return args


def time_task(func: tirx.PrimFunc, target: Target, seed: int = 0) -> Timing:
    """Compile ``func`` alone and time it on random inputs (median of several runs)."""
    mod = ir.IRModule({"main": func.with_attr("global_symbol", "main")})
    with target:
        lib = tvm.compile(mod, target=target)
    dev = tvm_runtime.cpu(0)
    host = _arguments(func, seed)
    args = [tvm_runtime.tensor(a, dev) for a in host]
    lib["main"](*args)
    timer = lib.mod.time_evaluator(
        "main", dev, number=NUMBER, repeat=5, min_repeat_ms=MIN_REPEAT_MS
    )
    results = timer(*args).results
    ms = float(np.median(results)) * 1e3
    return Timing(ms, [a.numpy() for a in args])


def same_outputs(a: Timing, b: Timing, rtol: float = 1e-4) -> str | None:
    """None if two timings computed the same values, else what differs."""
    for i, (x, y) in enumerate(zip(a.outputs, b.outputs, strict=True)):
        if x.dtype.kind != "f":
            if not np.array_equal(x, y):
                return f"argument {i} differs"
            continue
        scale = float(np.max(np.abs(x))) if x.size else 0.0
        err = float(np.max(np.abs(x - y))) if x.size else 0.0
        if not np.isfinite(err) or err > rtol * max(scale, 1e-30):
            return f"argument {i}: max error {err:.3g} (scale {scale:.3g})"
    return None
