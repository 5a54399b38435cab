"""Tuning logs: a directory with MetaSchedule's JSON database and fftc's metadata.

::

    tuning_logs/hyena_block-llvm-znver5/
        fftc_log.json                  target key, versions, tasks kept at their default,
                                       the compute knobs chosen (graph pass options)
        database_workload.json         MetaSchedule: one workload (task) per line
        database_tuning_record.json    MetaSchedule: one measured candidate per line

MetaSchedule appends one line per measurement, so an interrupted run leaves a
valid log (a torn last line is dropped when the log is opened).  A log is
keyed by the target (:attr:`fftc.target.TargetSpec.key`, e.g. ``llvm:znver5``)
and is refused for any other target.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fftc import __version__
from fftc.codegen.tvm_api import Target, meta_schedule, tirx, tvm_version
from fftc.errors import UsageError
from fftc.target import TargetSpec
from fftc.tune.tasks import deep_copy, task_module, workload_key

log = logging.getLogger("fftc.tune")

FORMAT = "fftc-tuning-log"
VERSION = 1
META = "fftc_log.json"
WORKLOADS = "database_workload.json"
RECORDS = "database_tuning_record.json"
#: where ``fftc tune`` writes logs unless told otherwise (relative to the working directory)
DEFAULT_ROOT = Path("tuning_logs")


def default_log_path(model: str | os.PathLike[str], spec: TargetSpec) -> Path:
    """``tuning_logs/<model>-<kind>-<arch>`` (one log per model and target)."""
    return DEFAULT_ROOT / f"{Path(model).stem}-{spec.key.replace(':', '-')}"


def _repair(path: Path) -> int:
    """Drop lines that are not JSON (a torn last line after a crash); returns how many."""
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines()
    good = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            continue
        good.append(line)
    if len(good) != len(lines):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(f"{ln}\n" for ln in good))
        tmp.replace(path)
    return len(lines) - len(good)


@dataclass
class TuningLog:
    """An opened tuning log (see the module doc)."""

    path: Path
    target: str
    #: workload key -> why the default schedule is kept for it (tuned one slower or wrong)
    keep_default: dict[str, str] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    #: the compute knobs chosen (graph pass options, ``fftc.tune.compute``); None: not
    #: searched yet
    compute_options: dict[str, Any] | None = None
    #: what each compute candidate measured (ms), for the record
    compute_times: dict[str, float | None] = field(default_factory=dict)
    _database: Any = None

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], spec: TargetSpec) -> TuningLog:
        """An existing log for ``spec``; a clear error if it is missing, broken or for
        another target."""
        where = Path(path)
        if not where.exists():
            raise UsageError(f"{where}: no such tuning log (run 'fftc tune MODEL' to make one)")
        if not where.is_dir():
            raise UsageError(
                f"{where}: not a tuning log (a tuning log is a directory written by fftc tune, "
                f"holding {META})"
            )
        meta_path = where / META
        if not meta_path.is_file():
            raise UsageError(f"{where}: not a tuning log (no {META} in it)")
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as err:
            raise UsageError(f"{meta_path}: not valid JSON ({err})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise UsageError(f"{meta_path}: not an fftc tuning log (format is not {FORMAT!r})")
        if meta.get("version") != VERSION:
            raise UsageError(
                f"{meta_path}: tuning log version {meta.get('version')!r}; this fftc reads "
                f"version {VERSION}"
            )
        target = str(meta.get("target", ""))
        if target != spec.key:
            raise UsageError(
                f"{where}: tuning log is for target {target}, not {spec.key}; it is not "
                f"applied to another target (tune for {spec.key}, or compile with "
                f"--target {target})"
            )
        keep = meta.get("keep_default", {})
        models = meta.get("models", [])
        compute = meta.get("compute_options")
        if compute is not None and not isinstance(compute, dict):
            raise UsageError(f"{meta_path}: compute_options must be an object, got {compute!r}")
        times = meta.get("compute_times", {})
        return cls(where, target, dict(keep), list(models), compute, dict(times))

    @classmethod
    def open_or_create(
        cls, path: str | os.PathLike[str], spec: TargetSpec, model: str
    ) -> TuningLog:
        """The log to tune into: opened if it exists (resuming), else created."""
        where = Path(path)
        if where.exists():
            opened = cls.open(where, spec)
            if model not in opened.models:
                opened.models.append(model)
                opened.save()
            return opened
        if not where.parent.exists():
            raise UsageError(f"{where.parent}: no such directory")
        where.mkdir()
        created = cls(where, spec.key, {}, [model])
        created.save()
        return created

    def save(self) -> None:
        """Write ``fftc_log.json`` (atomically)."""
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "target": self.target,
            "fftc_version": __version__,
            "tvm_version": tvm_version(),
            "models": self.models,
            "keep_default": self.keep_default,
            "compute_options": self.compute_options,
            "compute_times": self.compute_times,
        }
        tmp = self.path / f".{META}.tmp"
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path / META)

    # -- the database ----------------------------------------------------------------
    @property
    def database(self) -> Any:
        """MetaSchedule's JSON database of this log (records appended as measured)."""
        if self._database is None:
            for name in (WORKLOADS, RECORDS):
                dropped = _repair(self.path / name)
                if dropped:
                    log.warning("%s: dropped %d unreadable line(s)", self.path / name, dropped)
            try:
                self._database = meta_schedule.database.JSONDatabase(
                    str(self.path / WORKLOADS), str(self.path / RECORDS), allow_missing=True
                )
            except Exception as err:  # a record from an incompatible TVM, or edited by hand
                raise UsageError(f"{self.path}: cannot read the tuning database ({err})") from None
        return self._database

    def records(self) -> list[Any]:
        return list(self.database.get_all_tuning_records())

    def lookup(self, target: Target) -> Any:
        """``lookup(name, func)`` for :func:`fftc.codegen.build.build`: the best logged
        schedule of ``func``, or why there is none."""
        database = self.database
        if str(target.kind.name) == "cuda":  # traces name fftc's WMMA intrinsics
            from fftc.kernels.cuda.tensorcore import register_all

            register_all()

        def find(name: str, func: tirx.PrimFunc) -> tirx.PrimFunc | str:
            key = workload_key(func)
            if key in self.keep_default:
                return f"the log keeps the default ({self.keep_default[key]})"
            mod = deep_copy(task_module(func))  # replaying a trace may rewrite it
            if not database.has_workload(mod):
                return "not in the tuning log"
            try:
                sch = database.query_schedule(mod, target, workload_name="main")
            except Exception as err:  # a trace that no longer applies
                return f"its logged schedule does not apply ({str(err).strip().splitlines()[-1]})"
            if sch is None:
                return "no successful measurement in the tuning log yet"
            return sch.mod["main"].without_attr("global_symbol")

        return find
