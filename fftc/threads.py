"""How many CPU threads TVM's runtime uses.

TVM's thread pool assumes hyper-threading and uses half the logical CPUs
unless ``TVM_NUM_THREADS`` is set (on a 2-core machine: one thread).  fftc
sets it to every CPU this process may run on, unless the user set it.  The
pool starts at TVM's first parallel call, so importing this module anywhere
before that is enough (both of fftc's TVM doors import it).
"""

from __future__ import annotations

import os


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


os.environ.setdefault("TVM_NUM_THREADS", str(usable_cpus()))
