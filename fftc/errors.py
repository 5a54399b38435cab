"""fftc's error types.

Every error a user can cause derives from :class:`FftcError`; the CLI prints
it as ``fftc: error: <message>`` and exits with the error's ``exit_code``
(2 for bad usage or input, 1 for a failed compilation or verification).
"""

from __future__ import annotations


class FftcError(Exception):
    """Base class of errors reported to users (never with a traceback)."""

    exit_code = 1


class UsageError(FftcError):
    """A bad command line, argument, or input value."""

    exit_code = 2


class ModelError(FftcError):
    """The model file cannot be read or is not a valid ONNX model."""

    exit_code = 2


class UnsupportedError(FftcError):
    """The model uses ops or constructs fftc does not support (all listed at once)."""

    exit_code = 1


class CompileError(FftcError):
    """Lowering or code generation failed."""

    exit_code = 1


class VerificationError(FftcError):
    """fftc's results differ from the reference beyond the tolerance."""

    exit_code = 1


class ArtifactError(FftcError):
    """A compiled artifact is missing, corrupt, tampered with, or incompatible."""

    exit_code = 1


class InputError(FftcError):
    """Run-time inputs do not match the compiled module (names, shapes, dtypes)."""

    exit_code = 2
