"""Schedule templates for the LLVM (CPU) target."""

from . import conv, fft, fft_conv, generic  # noqa: F401  (each module registers its templates)
