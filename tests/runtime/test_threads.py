"""fftc's TVM thread-pool settings (``fftc.threads``), as a fresh process sees them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

NAMES = ("TVM_NUM_THREADS", "TVM_BIND_THREADS")
SHOW = f"import fftc.threads, os; print(*(os.environ[n] for n in {NAMES!r}))"


def _settings(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    out = subprocess.run([sys.executable, "-c", SHOW], env={**clean, **env}, capture_output=True,
                         text=True, check=True, timeout=120)  # fmt: skip
    return out.stdout.split()


def test_defaults_use_every_cpu_unpinned():
    """Every usable CPU, and no pinning: TVM pins its workers but not the calling thread,
    which then often shares a worker's core (2x slower short kernels, fftc/threads.py)."""
    threads, bind = _settings()
    assert int(threads) == len(os.sched_getaffinity(0))
    assert bind == "0"


@pytest.mark.parametrize(("threads", "bind"), [("1", "1"), ("3", "0")])
def test_a_users_settings_are_kept(threads: str, bind: str):
    assert _settings(TVM_NUM_THREADS=threads, TVM_BIND_THREADS=bind) == [threads, bind]
