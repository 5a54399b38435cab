"""The shipped tuning logs (``tuning_logs/``) still fit the example models they were
tuned on.

A change to a kernel, a pass or the fusion changes the fused functions, and a log's
records are keyed by the functions' structure: the changed functions silently fall back
to their defaults (only a warning says so). Every function of every model a shipped log
was tuned on must have a record in it (or be marked ``keep_default``); when one does not,
the log is stale and has to be tuned and shipped again (docs/tuning.md, "Shipped logs").
On a machine of the log's target, the tuned build must also compute what the default
build computes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fftc
from fftc.api import CompileOptions
from fftc.target import parse_target
from fftc.testing import assert_close, random_inputs
from fftc.tune.log import META

ROOT = Path(__file__).resolve().parents[2]
LOGS = sorted(p for p in (ROOT / "tuning_logs").iterdir() if (p / META).is_file())


def _models(log_dir: Path) -> list[tuple[str, Path]]:
    meta = json.loads((log_dir / META).read_text())
    return [(meta["target"], ROOT / "examples" / "onnx" / f"{m}.onnx") for m in meta["models"]]


def test_every_shipped_log_names_committed_example_models():
    assert LOGS, "no shipped tuning logs"
    for log_dir in LOGS:
        models = _models(log_dir)
        assert models, f"{log_dir.name} names no model"
        for _, path in models:
            assert path.is_file(), f"{log_dir.name}: {path.name} is not an example model"


@pytest.mark.parametrize("log_dir", LOGS, ids=lambda p: p.name)
def test_shipped_log_covers_every_function_of_its_models(log_dir: Path):
    for target, path in _models(log_dir):
        spec = parse_target(target)
        tuned = fftc.compile(path, spec, options=CompileOptions(tuning_log=str(log_dir)))
        stale = [
            d for d in tuned.decisions if "default schedule (" in d and "keeps the default" not in d
        ]
        assert not stale, (
            f"{log_dir.name} is stale for {path.name}: tune and ship it again "
            f"(docs/tuning.md): {stale}"
        )
        if spec.key != parse_target("llvm").key:  # another CPU: compiled, not run here
            continue
        # Same bound as the examples against onnxruntime: the tuned schedules only
        # reorder fp32 sums (observed differences ~1e-7 of the output's scale).
        feeds = random_inputs(path, 0, {})
        default = fftc.compile(path, spec, options=CompileOptions(shipped_logs=False))
        want = default.run(feeds)
        for name, got in tuned.run(feeds).items():
            assert_close(got, want[name], rtol=1e-4)
