"""Graph passes and THE pipeline (see :mod:`fftc.passes.pipeline`)."""

from fftc.passes.base import Decision, Pass, PassContext
from fftc.passes.pipeline import PIPELINE, pass_names, run_pipeline

__all__ = ["PIPELINE", "Decision", "Pass", "PassContext", "pass_names", "run_pipeline"]
