"""Schedule templates for the CUDA target.

Only fftc's own kernels (blocks tagged ``fftc.kernel``) are scheduled here
(``threads.py``: the generic thread binding; ``monarch.py``: the Monarch FFT
convolution's WMMA matmuls and elementwise stages, one kernel each;
``monarch_fused.py``: the whole two-factor Monarch convolution as one kernel);
everything else in a model gets TVM's dlight GPU rules
(``fftc.codegen.cuda_schedule``).  The CPU templates (``schedules/cpu``) are
never applied to CUDA code.
"""

from . import monarch, monarch_fused, threads  # noqa: F401  (registers the templates)
