"""fftc: an ML compiler for convolution-heavy and spectral models.

    import fftc
    m = fftc.compile("model.onnx", target="llvm")   # needs TVM's compiler
    y = m(x)                                          # or m.run({"x": x})
    m.export("model.fftc")
    m2 = fftc.load("model.fftc")                      # needs only TVM's runtime

``fftc.load`` and everything in :mod:`fftc.runtime` import no compiler code,
so a deployment needs only the TVM runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fftc.errors import FftcError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from fftc.api import compile
    from fftc.runtime import Module, load

__all__ = ["FftcError", "Module", "__version__", "compile", "load"]


def __getattr__(name: str) -> Any:
    # lazy: importing fftc must not import TVM's compiler (deployments lack it)
    if name == "compile":
        from fftc.api import compile

        return compile
    if name in ("load", "Module"):
        from fftc import runtime

        return getattr(runtime, name)
    if name == "testing":
        import importlib

        return importlib.import_module("fftc.testing")
    raise AttributeError(f"module 'fftc' has no attribute {name!r}")
