"""ONNX's backend tests against fftc, with a pass/fail/unsupported report per op.

    fftc conformance                 # the required suites (see REQUIRED)
    fftc conformance --all           # every node test ONNX ships, plus the required ones
    python -m fftc.backend.conformance --pattern 'test_dft' --json out.json

The cases run through ONNX's own runner (``onnx.backend.test.BackendTest``)
with its tolerances.  A case is *unsupported* when fftc refuses the model
with an :class:`~fftc.errors.UnsupportedError` (or another clean
``FftcError`` about the model), *failed* on any other error or a wrong
result.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unittest
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

#: the suites the issue requires to pass in full (cases of onnx 1.23: 55 + 28 + 9)
REQUIRED = {
    "node": r"test_(basic_conv|conv_|causal_conv_with_state|convtranspose|dft|stft)",
    "pytorch-converted": r"test_(Conv1d|Conv2d|Conv3d|ConvTranspose2d)",
    "light models": r"test_(bvlc_alexnet|densenet121|inception_v1|inception_v2|resnet50"
    r"|shufflenet|squeezenet|vgg19|zfnet512)",
}


@dataclass(frozen=True)
class CaseResult:
    name: str
    ops: str
    status: str  # "pass" | "fail" | "unsupported"
    reason: str
    seconds: float


class _Collector(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.results: dict[str, tuple[str, str]] = {}
        self._start: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def startTest(self, test: unittest.TestCase) -> None:  # noqa: N802 (unittest API)
        self._start[test.id()] = time.perf_counter()

    def stopTest(self, test: unittest.TestCase) -> None:  # noqa: N802
        self.seconds[test.id()] = time.perf_counter() - self._start[test.id()]

    def addSuccess(self, test: unittest.TestCase) -> None:  # noqa: N802
        self.results[test.id()] = ("pass", "")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:  # noqa: N802
        self.results[test.id()] = ("fail", _last_line(err[1]))

    def addError(self, test: unittest.TestCase, err: Any) -> None:  # noqa: N802
        from fftc.errors import ArtifactError, CompileError, FftcError

        exc = err[1]
        clean = isinstance(exc, FftcError) and not isinstance(exc, CompileError | ArtifactError)
        self.results[test.id()] = ("unsupported" if clean else "fail", _last_line(exc))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:  # noqa: N802
        self.results[test.id()] = ("skipped", reason)


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines else type(exc).__name__
    return re.sub(r"^node '[^']*' \(([^)]*)\): ", r"(\1) ", text)[:300]


def _model_ops() -> dict[str, str]:
    """What each ONNX test exercises, by test name: the op of a node test (its
    function-expanded variants count for the op they expand), or the suite."""
    import onnx.backend.test.loader as loader

    ops: dict[str, str] = {}
    for case in loader.load_model_tests(kind="node"):
        names = sorted({n.op_type for n in case.model.graph.node}) if case.model else []
        ops[case.name] = "+".join(names) if len(names) == 1 else "+".join(names[:3])
    for case in loader.load_model_tests(kind="node"):
        base = case.name.removesuffix("_expanded")
        if base != case.name and base in ops:
            ops[case.name] = f"{ops[base]} (expanded)"
    for case in loader.load_model_tests(kind="pytorch-converted"):
        ops[case.name] = "pytorch-converted"
    return ops


def run(pattern: str) -> list[CaseResult]:
    """Run the ONNX backend test cases whose names match ``pattern`` on fftc (CPU)."""
    import onnx.backend.test

    from fftc.backend import FftcBackend

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    runner = onnx.backend.test.BackendTest(FftcBackend, "fftc_conformance")
    runner.include(rf"({pattern}).*_cpu$")
    suite = unittest.TestSuite()
    for case in runner.test_cases.values():
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(case))
    collector = _Collector()
    suite.run(collector)
    ops = _model_ops()
    results = []
    for test_id, (status, reason) in sorted(collector.results.items()):
        if status == "skipped":
            continue
        name = test_id.rsplit(".", 1)[-1].removesuffix("_cpu")
        results.append(
            CaseResult(name, ops.get(name, "model zoo"), status, reason, collector.seconds[test_id])
        )
    return results


def report(results: list[CaseResult]) -> str:
    """A table of pass/fail/unsupported per op, then every non-passing case and why."""
    per_op: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in results:
        per_op[r.ops][r.status] += 1
    lines = [f"{'op':40s} {'pass':>5s} {'fail':>5s} {'unsupported':>11s}"]
    for op in sorted(per_op):
        c = per_op[op]
        lines.append(f"{op:40s} {c['pass']:5d} {c['fail']:5d} {c['unsupported']:11d}")
    totals = {s: sum(1 for r in results if r.status == s) for s in ("pass", "fail", "unsupported")}
    lines.append(
        f"\n{totals['pass']} passed, {totals['fail']} failed, "
        f"{totals['unsupported']} unsupported ({len(results)} cases)"
    )
    for status in ("fail", "unsupported"):
        bad = [r for r in results if r.status == status]
        if bad:
            lines.append(f"\n{status}:")
            lines += [f"  {r.name}: {r.reason}" for r in bad]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fftc conformance", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--all", action="store_true", help="every ONNX node test too")
    parser.add_argument("--pattern", help="only the tests whose names match this regex")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    return run_command(args.pattern, args.all, args.json)


def run_command(pattern: str | None, everything: bool, json_path: str | None) -> int:
    """Run, print the report; exit status 1 if a required case did not pass."""
    required = "|".join(REQUIRED.values())
    chosen = pattern or (rf"test_\w+|{required}" if everything else required)
    results = run(chosen)
    sys.stdout.write(report(results))
    if json_path:
        with open(json_path, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)
    must = re.compile(rf"^({required})")
    missed = [r for r in results if must.match(r.name) and r.status != "pass"]
    if missed:
        sys.stdout.write(f"\n{len(missed)} required cases did not pass\n")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
