"""How many CPU threads TVM's runtime uses.

TVM's thread pool assumes hyper-threading and uses half the logical CPUs
unless ``TVM_NUM_THREADS`` is set (on a 2-core machine: one thread).  fftc
sets it to every CPU this process may run on, unless the user set it.  The
pool starts at TVM's first parallel call, so importing this module anywhere
before that is enough (both of fftc's TVM doors import it).

fftc also turns off TVM's thread pinning (``TVM_BIND_THREADS=0``) unless the user
set it: TVM pins its worker threads to cores but leaves the calling thread (worker
0) free, so the scheduler often puts the caller on a worker's core and a parallel
loop runs on one core.  Measured on the 2-core CI machine (Hyena block, six
compiles in one process, median ms each): pinned 0.067-0.135, mostly ~0.11;
unpinned 0.054-0.069.  The variable is inherited by MetaSchedule's runner
processes, so tuning measures the same way.
"""

from __future__ import annotations

import os


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


os.environ.setdefault("TVM_NUM_THREADS", str(usable_cpus()))
os.environ.setdefault("TVM_BIND_THREADS", "0")
