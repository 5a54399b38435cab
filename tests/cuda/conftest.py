"""Fixtures of the CUDA tests: nvcc (skips without it), and the Monarch kernel's
random problems (shared by the host and the GPU tests)."""

from __future__ import annotations

import numpy as np
import pytest

from fftc.codegen.cuda import find_nvcc

#: u (rows, n), the filters' spectra (heads, n), D (heads,), the gate (rows, n)
MonarchProblem = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="session")
def nvcc() -> str:
    path = find_nvcc()
    if path is None:
        pytest.skip("nvcc is not installed: CUDA code generation tests need the CUDA toolkit")
    return str(path)


def random_problem(rows: int, heads: int, n: int, seed: int = 0) -> MonarchProblem:
    """Seeded inputs of the Monarch convolution (u and gate float32, the rest float64)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((rows, n)).astype(np.float32)
    spectrum = np.fft.fft(rng.standard_normal((heads, n)) / np.sqrt(n), axis=-1)
    d = rng.standard_normal(heads)
    gate = rng.standard_normal((rows, n)).astype(np.float32)
    return u, spectrum, d, gate
