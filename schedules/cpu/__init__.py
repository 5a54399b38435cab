"""Schedule templates for the LLVM (CPU) target."""

from . import conv, fft, fft_conv, fft_conv2d, freq_mix, generic  # noqa: F401  (each module registers its templates)
