"""Shipped tuning logs: schedules tuned for the example models, applied automatically.

``tuning_logs/`` beside the package (or the directory named by ``FFTC_TUNING_LOGS``;
set it empty to turn them off) holds tuning logs written by ``fftc tune``.  A
compile without ``--tuning-log`` looks every function up in the logs whose
target key matches the compile's (``llvm:znver5``, ...); functions they lack, and
every function for another target, keep the default schedules.  An explicit
``--tuning-log`` replaces the shipped logs; ``--no-shipped-logs`` (or
``CompileOptions(shipped_logs=False)``) ignores them.  The compute knobs a log
chose (``fft_max_radix``, which shape the graph and so the tuned workloads) apply
to the models the log was tuned on (by file stem), as with ``--tuning-log``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fftc.errors import UsageError
from fftc.target import TargetSpec

log = logging.getLogger("fftc.tune")

#: environment variable naming the shipped-log directory ("" turns them off)
ENV = "FFTC_TUNING_LOGS"

Lookup = Callable[[str, Any], Any]


def shipped_root() -> Path | None:
    """The directory of shipped logs, or None."""
    named = os.environ.get(ENV)
    if named is not None:
        return Path(named) if named else None
    root = Path(__file__).resolve().parents[2] / "tuning_logs"
    return root if root.is_dir() else None


def shipped_logs(spec: TargetSpec) -> list[Any]:
    """The shipped logs for ``spec``'s target (others, and unreadable ones, are skipped)."""
    from fftc.tune.log import META, TuningLog

    root = shipped_root()
    if root is None or not root.is_dir():
        return []
    logs = []
    for path in sorted(root.iterdir()):
        if not (path / META).is_file():
            continue
        try:
            logs.append(TuningLog.open(path, spec))
        except UsageError as err:  # another target, or a log this fftc cannot read
            log.debug("shipped tuning log %s skipped: %s", path, err)
    return logs


def shipped_lookup(spec: TargetSpec, target: Any) -> tuple[Lookup | None, list[Path]]:
    """A lookup over every shipped log for ``spec`` (the first with a schedule wins),
    and their paths; ``(None, [])`` when there are none."""
    logs = shipped_logs(spec)
    if not logs:
        return None, []
    finds = [lg.lookup(target) for lg in logs]

    def find(name: str, func: Any) -> Any:
        reasons = []
        for lookup in finds:
            found = lookup(name, func)
            if not isinstance(found, str):
                return found
            reasons.append(found)
        kept = next((r for r in reasons if "keeps the default" in r), None)
        return kept or "not in the shipped tuning logs"

    return find, [lg.path for lg in logs]


def shipped_pass_options(spec: TargetSpec, model: str) -> tuple[dict[str, Any], Path | None]:
    """The compute knobs of the first shipped log for ``spec`` tuned on ``model`` (a file
    stem) that chose any, and that log's path; ``({}, None)`` when none did."""
    for tuning_log in shipped_logs(spec):
        if model in tuning_log.models and tuning_log.compute_options:
            return dict(tuning_log.compute_options), tuning_log.path
    return {}, None
