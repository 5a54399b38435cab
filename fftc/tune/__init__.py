"""``fftc tune``: search fftc's schedule knobs and MetaSchedule's spaces, log the best.

* :mod:`~fftc.tune.tasks`: a model's fused PrimFuncs, deduplicated and weighted;
* :mod:`~fftc.tune.space`: the design spaces (fftc's templates, MetaSchedule's rules);
* :mod:`~fftc.tune.search`: the search strategy (never re-measures logged candidates);
* :mod:`~fftc.tune.log`: tuning logs (a directory per model and target);
* :mod:`~fftc.tune.measure`: builders, runners (local or RPC), in-process timing;
* :mod:`~fftc.tune.driver`: the tuning run, with progress, time budget and Ctrl-C.

See docs/tuning.md.
"""
