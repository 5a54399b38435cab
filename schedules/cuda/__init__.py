"""Schedule templates for the CUDA target.

Only fftc's own kernels (blocks tagged ``fftc.kernel``) are scheduled here;
everything else in a model gets TVM's dlight GPU rules
(``fftc.codegen.cuda_schedule``).  The CPU templates (``schedules/cpu``) are
never applied to CUDA code.
"""

from . import threads  # noqa: F401  (registers the templates)
