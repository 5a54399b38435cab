"""The Monarch FFT convolution on the host: the stage decomposition against np.fft in
float64, and the kernel's TIR built for llvm against the NumPy model (no GPU needed)."""

from __future__ import annotations

import numpy as np
import pytest

from fftc.errors import UsageError
from fftc.kernels.cuda.monarch import (
    build_monarch_module,
    kernel_inputs,
    monarch_factors,
    permute_spectrum,
    reference_fft,
    reference_stages,
)
from tests.cuda.conftest import random_problem


@pytest.mark.parametrize(
    ("n", "n1", "n2"), [(256, 16, 16), (512, 16, 32), (1024, 32, 32), (4096, 64, 64)]
)
def test_factors(n: int, n1: int, n2: int) -> None:
    plan = monarch_factors(n)
    assert (plan.n1, plan.n2) == (n1, n2)


@pytest.mark.parametrize("n", [100, 48, 8192])
def test_unsupported_lengths_are_refused(n: int) -> None:
    with pytest.raises(UsageError, match=f"Monarch FFT length {n}"):
        monarch_factors(n)


@pytest.mark.parametrize("n", [256, 1024, 4096])
def test_stage_decomposition_is_the_fft_convolution(n: int) -> None:
    u, spectrum, d, gate = random_problem(4, 2, n)
    exact = reference_fft(u, spectrum, d, gate)
    model = reference_stages(u, spectrum, d, gate, monarch_factors(n))
    assert np.abs(model - exact).max() <= 1e-12 * np.abs(exact).max()


def test_the_reference_is_a_circular_convolution() -> None:
    n = 256
    u, _, _, _ = random_problem(1, 1, n)
    k = np.zeros(n)
    k[3] = 1.0  # a delay by 3 samples
    y = reference_fft(u, np.fft.fft(k)[None], np.zeros(1), np.ones((1, n)))
    np.testing.assert_allclose(y[0], np.roll(u[0], 3), atol=1e-12)


def test_spectrum_permutation() -> None:
    plan = monarch_factors(512)
    spectrum = np.arange(512)[None] * (1 + 2j)
    kp = permute_spectrum(spectrum, plan)
    k1, k2 = 5, 7
    assert kp[0, k1, k2, 0] == k1 + plan.n1 * k2
    assert kp[0, k1, k2, 1] == 2 * (k1 + plan.n1 * k2)


#: (dtype, max error vs the rounded NumPy model, vs np.fft), relative to max |exact|
TOLERANCES = {"float32": (1e-5, 1e-5), "float16": (3e-4, 3e-3), "bfloat16": (3e-3, 2e-2)}


@pytest.mark.parametrize(
    ("dtype", "n"), [("float32", 256), ("float16", 256), ("float16", 1024), ("bfloat16", 512)]
)
def test_kernel_built_for_llvm_matches_the_model(dtype: str, n: int) -> None:
    from fftc.codegen.tvm_api import llvm_target, tvm

    rows, heads = 6, 3
    u, spectrum, d, gate = random_problem(rows, heads, n, seed=1)
    target = llvm_target()
    mod, plan = build_monarch_module(rows, heads, n, dtype, target)
    ex = tvm.compile(mod, target=target)
    dev = tvm.cpu()
    args = [tvm.runtime.tensor(a, dev) for a in kernel_inputs(u, spectrum, d, gate, plan, dtype)]
    out = tvm.runtime.empty((rows, n), dtype, dev)
    ex["main"](*args, out)
    got = out.numpy().astype(np.float64)

    exact = reference_fft(u, spectrum, d, gate)
    model = reference_stages(u, spectrum, d, gate, plan, dtype)
    scale = np.abs(exact).max()
    to_model, to_exact = TOLERANCES[dtype]
    assert np.abs(got - model).max() <= to_model * scale
    assert np.abs(got - exact).max() <= to_exact * scale
