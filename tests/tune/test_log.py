"""Tuning logs: opening, target keys, bad logs, torn lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fftc.errors import UsageError
from fftc.target import TargetSpec
from fftc.tune.log import META, RECORDS, TuningLog, _repair, default_log_path

CPU = TargetSpec("llvm", "znver5", 2)
OTHER = TargetSpec("llvm", "skylake", 2)


def test_default_path_is_keyed_by_model_and_target():
    assert default_log_path("models/net.onnx", CPU) == Path("tuning_logs/net-llvm-znver5")


def test_create_then_open(tmp_path: Path):
    log = TuningLog.open_or_create(tmp_path / "log", CPU, "net")
    assert (tmp_path / "log" / META).is_file()
    again = TuningLog.open(tmp_path / "log", CPU)
    assert again.target == "llvm:znver5"
    assert again.models == ["net"]
    assert log.records() == []


def test_log_for_another_target_is_refused(tmp_path: Path):
    TuningLog.open_or_create(tmp_path / "log", CPU, "net")
    with pytest.raises(UsageError, match=r"for target llvm:znver5, not llvm:skylake"):
        TuningLog.open(tmp_path / "log", OTHER)
    with pytest.raises(UsageError, match="not applied to another target"):
        TuningLog.open_or_create(tmp_path / "log", OTHER, "net")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no such tuning log"),
        (lambda p: p.write_text("{}"), "not a tuning log"),
        (lambda p: p.mkdir(), f"no {META}"),
        (lambda p: (p.mkdir(), (p / META).write_text("{oops")), "not valid JSON"),
        (lambda p: (p.mkdir(), (p / META).write_text('{"format": "x"}')), "not an fftc tuning log"),
        (
            lambda p: (
                p.mkdir(),
                (p / META).write_text(json.dumps({"format": "fftc-tuning-log", "version": 99})),
            ),
            "version 99",
        ),
    ],
)
def test_bad_logs_are_clear_errors(tmp_path: Path, setup, message: str):
    path = tmp_path / "log"
    setup(path)
    with pytest.raises(UsageError, match=message):
        TuningLog.open(path, CPU)


def test_a_torn_last_line_is_dropped(tmp_path: Path):
    path = tmp_path / RECORDS
    path.write_text("[1, 2]\n[3, 4]\n[5, ")
    assert _repair(path) == 1
    assert path.read_text() == "[1, 2]\n[3, 4]\n"
    assert _repair(path) == 0
