"""Fixtures of the CUDA tests: nvcc (skips without it) and shared builds."""

from __future__ import annotations

import pytest

from fftc.codegen.cuda import find_nvcc


@pytest.fixture(scope="session")
def nvcc() -> str:
    path = find_nvcc()
    if path is None:
        pytest.skip("nvcc is not installed: CUDA code generation tests need the CUDA toolkit")
    return str(path)
