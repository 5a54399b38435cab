"""Running compiled models; needs only TVM's runtime (no compiler)."""

from fftc.runtime.module import Module, load

__all__ = ["Module", "load"]
