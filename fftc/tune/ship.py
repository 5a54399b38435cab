"""``python -m fftc.tune.ship LOG [LOG ...] --into DIR``: copy tuning logs, pruned to
the best record per task, into a directory of shipped logs (``tuning_logs/``).

A tuning run keeps every measured candidate (it resumes from them); a shipped log
needs only the schedule that is applied, so its files stay small.  The copy keeps
the log's target key, its models, its ``keep_default`` list and the compute knobs it
chose (the tuned workloads were compiled with them).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from fftc.codegen.tvm_api import meta_schedule
from fftc.errors import UsageError
from fftc.target import parse_target
from fftc.tune.log import META, RECORDS, WORKLOADS, TuningLog


def ship(source: Path, into: Path) -> Path:
    """Write ``into/<source name>``: ``source`` with its best record per task."""
    import json

    meta_path = source / META
    if not meta_path.is_file():
        raise UsageError(f"{source}: not a tuning log (no {META} in it)")
    target = str(json.loads(meta_path.read_text()).get("target", ""))
    log = TuningLog.open(source, parse_target(target))
    dest = into / source.name
    if dest.exists():
        raise UsageError(f"{dest}: already exists (remove it to ship {source} again)")
    dest.mkdir(parents=True)
    pruned = meta_schedule.database.JSONDatabase(
        str(dest / WORKLOADS), str(dest / RECORDS), allow_missing=True
    )
    log.database.dump_pruned(pruned)
    kept = dataclasses.replace(log, path=dest, _database=None)
    kept.save()
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fftc.tune.ship", description=__doc__)
    p.add_argument("logs", nargs="+", type=Path, metavar="LOG")
    p.add_argument("--into", type=Path, default=Path("tuning_logs"), metavar="DIR")
    args = p.parse_args(argv)
    try:
        for source in args.logs:
            dest = ship(source, args.into)
            size = sum(f.stat().st_size for f in dest.iterdir())
            print(f"{source} -> {dest} ({size / 1024:.0f} KiB)")
    except UsageError as err:
        print(f"fftc: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
