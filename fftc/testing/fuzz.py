"""A bounded mutation fuzzer for fftc: a mutated model must compile (and run) or fail
with an :class:`~fftc.errors.FftcError`; anything else is a bug.

Run it (one command; exit status 1 if any case is a BUG)::

    python -m fftc.testing.fuzz --cases 300 --seed 0            # ~1 min on 2 cores
    python -m fftc.testing.fuzz --cases 20000 --seed 7 --jobs 8 --timeout 120 \\
        --save-failures fuzz-failures/ 2>&1 | tee fuzz.log      # a long session

then ``python -m fftc.testing.fuzz --replay fuzz-failures/*.onnx`` re-evaluates what it
saved (each ``.onnx`` has a ``.txt`` with the mutation and the error). CI runs 300
cases of seed 0 with every mutation kind (``tests/robustness/test_fuzz.py``).
Case ``i`` of a seed is the same whatever ``--start``/``--cases`` (``--seed S --start i
--cases 1`` regenerates it), so a long session can be split into shards with ``--start``.

Each case takes a seed model (the committed ``examples/onnx`` and ``examples/zoo``
models and small generated ones), applies one mutation (:mod:`fftc.testing.fuzz_mutations`:
protobuf bytes or the graph) and runs ``fftc.compile`` on it in a child process
(``spawn``; one per job, reused, restarted after a crash, a timeout or ``--recycle``
cases) under an address-space limit; a module that compiles runs once on random inputs
of its declared shapes. Outcomes:

* ``OK``: compiled and ran (outputs finite or not);
* ``CLEAN_ERROR``: an ``FftcError`` whose message does not admit an internal failure;
* ``BUG``: any other exception, an ``FftcError`` admitting an internal failure
  (:data:`INTERNAL_MARKERS`), a crash (signal), a timeout, or the memory limit. A BUG
  seen in a reused child is run again in a fresh one, and that result counts.
"""

from __future__ import annotations

import argparse
import faulthandler
import multiprocessing
import os
import queue
import random
import resource
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from fftc.testing.fuzz_mutations import KINDS, Skip, mutate, seed_models

OK, CLEAN_ERROR, BUG = "OK", "CLEAN_ERROR", "BUG"
OUTCOMES = (OK, CLEAN_ERROR, BUG)
#: FftcError messages holding these admit an internal failure, not bad input
INTERNAL_MARKERS = ("an fftc bug", "please report", "bad_alloc", "MemoryError", "internal error")
#: compiled modules whose inputs and outputs take more bytes than this are not run
RUN_BYTES_LIMIT = 1 << 28
#: payloads that make the child crash, hang or exhaust memory (tests of the harness)
SELF_TEST: dict[bytes, Callable[[], object]] = {
    b"fftc-fuzz:crash": lambda: os.kill(os.getpid(), signal.SIGSEGV),
    b"fftc-fuzz:hang": lambda: time.sleep(3600),
    b"fftc-fuzz:oom": lambda: bytearray(1 << 44),
}


@dataclass(frozen=True)
class Case:
    """One fuzz case: the mutated model and how it was made."""

    index: int
    seed_model: str
    kind: str
    description: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: str
    detail: str


def make_case(seed: int, index: int, seeds: Mapping[str, bytes], kinds: Sequence[str]) -> Case:
    """Case ``index`` of run ``seed``: a seed model and a mutation, drawn deterministically."""
    rng = random.Random(f"fftc-fuzz/{seed}/{index}")
    names = sorted(seeds)
    for _ in range(100):
        name, kind, other = rng.choice(names), rng.choice(list(kinds)), rng.choice(names)
        try:
            data, description = mutate(kind, seeds[name], seeds[other], rng)
        except Skip:
            continue
        return Case(index, name, kind, description, data)
    raise RuntimeError(f"no mutation of {list(kinds)} applies to the seed models")


# -- the child process ---------------------------------------------------------------------


def classify(err: BaseException, phase: str = "compile") -> tuple[str, str]:
    """(outcome, detail) of an exception raised while compiling or running."""
    from fftc.errors import FftcError

    if isinstance(err, FftcError) and phase == "compile":
        text = f"{type(err).__name__}: {err}"
        if str(err).strip() and not any(m in text for m in INTERNAL_MARKERS):
            return CLEAN_ERROR, text
        return BUG, f"{phase}: an FftcError admitting an internal failure: {text[:800]}"
    first = (str(err).strip().splitlines() or [""])[0][:300]
    tail = "".join(traceback.format_exception(err)[-6:]).rstrip()
    return BUG, f"{phase}: {type(err).__name__}: {first}\n{tail}"


def evaluate_file(path: str, seed: int = 0) -> tuple[str, str]:
    """Compile the model at ``path`` and run it once: (outcome, detail). In-process."""
    import fftc

    try:
        module = fftc.compile(path)
    except BaseException as err:  # the point: every exception is classified
        return classify(err, "compile")
    try:
        return OK, _run_once(module, seed)
    except BaseException as err:
        return classify(err, "run")


def _run_once(module: Any, seed: int) -> str:
    rng = np.random.default_rng(seed)
    specs = [*module.inputs, *module.outputs]
    try:
        dtypes = [np.dtype(s.dtype) for s in specs]
    except TypeError:
        return "compiled; not run (no NumPy dtype for an input or output)"
    nbytes = sum(int(np.prod(s.shape)) * d.itemsize for s, d in zip(specs, dtypes, strict=True))
    if nbytes > RUN_BYTES_LIMIT:
        return "compiled; not run (inputs and outputs too large)"
    feeds: dict[str, np.ndarray] = {}
    for spec, dtype in zip(module.inputs, dtypes, strict=False):
        if dtype.kind == "f":
            feeds[spec.name] = rng.standard_normal(spec.shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[spec.name] = rng.random(spec.shape) < 0.5
        else:
            feeds[spec.name] = rng.integers(0, 8, spec.shape).astype(dtype)
    outs = [np.asarray(v) for v in module.run(feeds).values()]
    finite = all(np.isfinite(v).all() for v in outs if v.dtype.kind == "f")
    return "compiled and ran" + ("" if finite else " (non-finite outputs)")


def _child(conn: Connection, memory_bytes: int, log_path: str) -> None:
    """Child process loop: receive (index, model bytes), send (outcome, detail)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    os.environ["TVM_NUM_THREADS"] = "1"  # jobs, not threads, use the cores
    log = open(log_path, "a")  # noqa: SIM115 (lives as long as the process)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    faulthandler.enable(log)
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    import fftc.codegen.build  # noqa: F401  (load TVM before the first case's clock starts)

    workdir = Path(tempfile.mkdtemp(prefix="fftc-fuzz-"))
    conn.send("ready")
    while (msg := conn.recv()) is not None:
        index, data = msg
        os.ftruncate(log.fileno(), 0)
        if data in SELF_TEST:
            try:
                SELF_TEST[data]()
            except BaseException as err:
                conn.send(classify(err))
                continue
        path = workdir / f"case{index}.onnx"
        path.write_bytes(data)
        conn.send(evaluate_file(str(path), index))
        path.unlink()


# -- the parent side -----------------------------------------------------------------------


@dataclass
class Options:
    timeout: float = 60.0
    jobs: int = 1
    memory_mb: int = 4096
    recycle: int = 100
    progress: Callable[[Result], None] | None = None


class Worker:
    """One reusable child process (restarted after a crash or a timeout)."""

    def __init__(self, opts: Options) -> None:
        self.opts, self.ctx = opts, multiprocessing.get_context("spawn")
        self.proc: Any = None
        self.conn: Connection | None = None
        self.cases = 0
        fd, self.log = tempfile.mkstemp(prefix="fftc-fuzz-", suffix=".log")
        os.close(fd)

    def _start(self) -> Connection:
        conn, child = self.ctx.Pipe()
        args = (child, self.opts.memory_mb << 20, self.log)
        self.proc = self.ctx.Process(target=_child, args=args, daemon=True)
        self.proc.start()
        child.close()
        try:
            if conn.poll(300) and conn.recv() == "ready":
                self.conn, self.cases = conn, 0
                return conn
        except EOFError:
            pass
        self.kill()
        raise RuntimeError(f"the fuzz child process did not start:\n{self.log_tail()}")

    def log_tail(self, n: int = 16) -> str:
        text = Path(self.log).read_text(errors="replace").splitlines()
        lines = [s for s in text if s.strip() and not s.startswith("Extension modules")]
        return "\n".join(lines if len(lines) <= n else [*lines[:6], "...", *lines[6 - n :]])

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(10)
        self.proc = self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.send(None)
                self.proc.join(10)
            except OSError:
                pass
        self.kill()

    def _attempt(self, case: Case) -> tuple[str, str]:
        conn = self.conn or self._start()
        self.cases += 1
        try:
            conn.send((case.index, case.data))
            if conn.poll(self.opts.timeout):
                outcome, detail = conn.recv()
                return str(outcome), str(detail)
            why = f"timeout: no result after {self.opts.timeout:g} s"
        except (EOFError, OSError):
            self.proc.join(10)
            code = self.proc.exitcode
            how = signal.Signals(-code).name if code and code < 0 else f"exit status {code}"
            why = f"the child process died ({how}); its last output:\n{self.log_tail()}"
        self.kill()
        return BUG, why

    def evaluate(self, case: Case) -> Result:
        reused = self.cases > 0
        outcome, detail = self._attempt(case)
        if outcome == BUG and reused:  # rule out state left behind by earlier cases
            self.kill()
            outcome, detail = self._attempt(case)
        if self.cases >= self.opts.recycle:
            self.close()
        return Result(case, outcome, detail)


def run_cases(cases: Sequence[Case], opts: Options) -> list[Result]:
    """Evaluate ``cases`` on ``opts.jobs`` child processes; results in case order."""
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(cases)):
        todo.put(i)
    results: dict[int, Result] = {}
    errors: list[BaseException] = []

    def loop() -> None:
        worker = Worker(opts)
        try:
            while not errors:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                results[i] = worker.evaluate(cases[i])
                if opts.progress is not None:
                    opts.progress(results[i])
        except BaseException as err:
            errors.append(err)
        finally:
            worker.close()
            Path(worker.log).unlink(missing_ok=True)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(max(opts.jobs, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [results[i] for i in sorted(results)]


def fuzz(
    cases: int,
    seed: int = 0,
    start: int = 0,
    kinds: Sequence[str] = KINDS,
    opts: Options | None = None,
    seeds: Mapping[str, bytes] | None = None,
) -> list[Result]:
    """Generate cases ``start .. start+cases-1`` of run ``seed`` and evaluate them."""
    pool = seeds if seeds is not None else seed_models()
    todo = [make_case(seed, i, pool, kinds) for i in range(start, start + cases)]
    return run_cases(todo, opts or Options())


# -- reporting and the command line --------------------------------------------------------


def summary(results: Sequence[Result], seconds: float | None = None) -> str:
    """Counts per outcome and per mutation kind, then every BUG with its description."""
    counts = Counter(r.outcome for r in results)
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    lines = [f"fftc fuzz: {len(results)} cases{took}: " +
             ", ".join(f"{counts[o]} {o}" for o in OUTCOMES),
             f"  {'mutation kind':20s} {OK:>5s} {CLEAN_ERROR:>12s} {BUG:>5s}"]  # fmt: skip
    per_kind: dict[str, Counter[str]] = {}
    for r in results:
        per_kind.setdefault(r.case.kind, Counter())[r.outcome] += 1
    for kind, c in sorted(per_kind.items()):
        lines.append(f"  {kind:20s} {c[OK]:5d} {c[CLEAN_ERROR]:12d} {c[BUG]:5d}")
    for r in (r for r in results if r.outcome == BUG):
        lines.append(f"BUG case {r.case.index} [{r.case.kind}] {r.case.seed_model}: "
                     f"{r.case.description}")  # fmt: skip
        lines.extend("    " + line for line in r.detail.splitlines())
    return "\n".join(lines)


def save_failures(results: Sequence[Result], folder: Path, seed: int) -> list[Path]:
    """Write each BUG's model (``.onnx``) and what happened (``.txt``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for r in (r for r in results if r.outcome == BUG):
        path = folder / f"seed{seed}-case{r.case.index:06d}-{r.case.kind}.onnx"
        path.write_bytes(r.case.data)
        path.with_suffix(".txt").write_text(
            f"seed model: {r.case.seed_model}\nmutation: {r.case.kind}: {r.case.description}\n"
            f"regenerate: python -m fftc.testing.fuzz --seed {seed} --start {r.case.index} "
            f"--cases 1\nreplay: python -m fftc.testing.fuzz --replay {path}\n\n{r.detail}\n"
        )
        saved.append(path)
    return saved


def _kinds(only: str | None, exclude: str | None) -> list[str]:
    chosen = only.split(",") if only else list(KINDS)
    dropped = set(exclude.split(",")) if exclude else set()
    unknown = (set(chosen) | dropped) - set(KINDS)
    if unknown:
        raise SystemExit(f"fftc fuzz: unknown mutation kinds {sorted(unknown)}; see --list-kinds")
    return [k for k in chosen if k not in dropped]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m fftc.testing.fuzz",
        description="Mutation fuzzer: fftc must compile a mutated model or raise an FftcError.",
    )
    add = p.add_argument
    add("--cases", type=int, default=200, help="number of cases (default 200)")
    add("--seed", type=int, default=0, help="run seed (default 0)")
    add("--start", type=int, default=0, help="index of the first case (to shard a session)")
    add("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    add("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="child processes")
    add("--memory-mb", type=int, default=4096, help="address space per child (default 4096)")
    add("--recycle", type=int, default=100, help="restart a child after N cases (default 100)")
    add("--kinds", help="comma-separated mutation kinds to use (default: all)")
    add("--exclude", help="comma-separated mutation kinds to leave out")
    add("--models", nargs="+", default=[], help="more seed models (.onnx files)")
    add("--save-failures", metavar="DIR", help="write each BUG's model and report here")
    add("--replay", nargs="+", metavar="MODEL", help="evaluate these files as they are")
    add("--list-kinds", action="store_true", help="list the mutation kinds and exit")
    add("-v", "--verbose", action="store_true", help="print every case as it finishes")
    args = p.parse_args(argv)
    if args.list_kinds:
        print("\n".join(KINDS))
        return 0
    done: Counter[str] = Counter()

    def progress(r: Result) -> None:
        done[r.outcome] += 1
        if args.verbose:
            print(f"case {r.case.index} [{r.case.kind}] {r.case.seed_model}: {r.outcome}: "
                  f"{r.case.description} -> {r.detail.splitlines()[0][:160]}",
                  file=sys.stderr, flush=True)  # fmt: skip
        elif done.total() % 100 == 0:
            print(f"fftc fuzz: {done.total()} cases done, {done[BUG]} BUG", file=sys.stderr,
                  flush=True)  # fmt: skip

    opts = Options(args.timeout, args.jobs, args.memory_mb, args.recycle, progress)
    t0 = time.perf_counter()
    if args.replay:
        todo = [Case(i, p, "replay", "unmodified file", Path(p).read_bytes())
                for i, p in enumerate(args.replay)]  # fmt: skip
        results = run_cases(todo, opts)
    else:
        seeds = seed_models()
        seeds.update({f"file/{Path(m).name}": Path(m).read_bytes() for m in args.models})
        kinds = _kinds(args.kinds, args.exclude)
        results = fuzz(args.cases, args.seed, args.start, kinds, opts, seeds)
    print(summary(results, time.perf_counter() - t0))
    if args.save_failures and not args.replay:
        for path in save_failures(results, Path(args.save_failures), args.seed):
            print(f"saved {path}")
    return 1 if any(r.outcome == BUG for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
