"""Suites, case selection, seeded problems, float64 references and the timing policy
(NumPy only: no PyTorch, no compiler)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from fftc.bench.suites import SUITES, make_problem, reference, select_cases
from fftc.bench.timing import MAX_RUNS, MIN_RUNS, Settings, runs_for, time_calls
from fftc.errors import UsageError


def test_issue_sizes() -> None:
    names = {s: [c.name for c in suite.cases] for s, suite in SUITES.items()}
    assert names == {
        "longconv": ["L=1024", "L=4096", "L=16384", "L=65536"],
        "dwconv2d": ["31x31 C=128 56x56", "31x31 C=256 28x28", "31x31 C=512 14x14",
                     "7x7 C=96 56x56"],
        "gfnet": ["56x56x384"],
        "fnet": ["512x768"],
        "longconv-gpu": [f"L={n} {dt}" for n in (1024, 4096, 8192, 16384, 32768)
                         for dt in ("fp16", "bf16", "fp32")],
    }  # fmt: skip
    assert all(c.param("H") == 768 for c in SUITES["longconv"].cases)


def test_select_cases_filters() -> None:
    assert [c.name for c in select_cases(["longconv"], patterns=["L=1024"])] == ["L=1024"]
    assert len(select_cases(["dwconv2d"], patterns=["31x31*"])) == 3
    assert [c.name for c in select_cases(["longconv", "dwconv2d"], sizes=[4096, 7])] == [
        "L=4096",
        "7x7 C=96 56x56",
    ]
    assert len(select_cases(["fnet", "fnet"])) == 1  # a suite named twice runs once
    quick = select_cases(list(SUITES), quick=True)
    assert {c.suite for c in quick} == set(SUITES)
    assert all(c.size <= 10_000 for c in quick)


@pytest.mark.parametrize(
    ("names", "patterns", "sizes", "message"),
    [
        (["longconv", "convnext"], [], [], "unknown suite 'convnext'; suites are: longconv,"),
        (["longconv"], ["L=5"], [], "--case 'L=5' matches no case; cases are: longconv L=1024"),
        (["fnet"], [], [3], "--sizes 3 matches no case"),
    ],
)
def test_select_cases_errors(
    names: list[str], patterns: list[str], sizes: list[int], message: str
) -> None:
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(")):
        select_cases(names, patterns=patterns, sizes=sizes)


def test_problems_are_seeded() -> None:
    case = SUITES["longconv"].quick_cases[0]
    a, b, c = make_problem(case, 0), make_problem(case, 0), make_problem(case, 1)
    assert np.array_equal(a.inputs["u"], b.inputs["u"])
    assert not np.array_equal(a.inputs["u"], c.inputs["u"])
    assert np.array_equal(a.weights["k"], c.weights["k"])  # weights do not follow --seed
    assert all(v.dtype == np.float32 for v in (*a.inputs.values(), *a.weights.values()))


def test_longconv_reference_is_the_direct_causal_convolution() -> None:
    pr = make_problem(SUITES["longconv"].quick_cases[1])
    u, g = pr.inputs["u"][0].astype(np.float64), pr.inputs["g"][0].astype(np.float64)
    k, d = pr.weights["k"].astype(np.float64), pr.weights["D"].astype(np.float64)
    n = u.shape[-1]
    conv = np.stack([np.convolve(u[h], k[h])[:n] for h in range(u.shape[0])])
    np.testing.assert_allclose(reference(pr)[0], g * (conv + d[:, None] * u), atol=1e-12)


def test_dwconv2d_reference_is_the_direct_correlation() -> None:
    pr = make_problem(SUITES["dwconv2d"].quick_cases[0])
    x = pr.inputs["x"][0].astype(np.float64)
    w = pr.weights["weight"][:, 0].astype(np.float64)
    b = pr.weights["bias"].astype(np.float64)
    k, p = w.shape[-1], w.shape[-1] // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    _c, h, wd = x.shape
    direct = np.zeros_like(x)
    for i in range(h):
        for j in range(wd):
            direct[:, i, j] = (xp[:, i : i + k, j : j + k] * w).sum(axis=(1, 2)) + b
    np.testing.assert_allclose(reference(pr)[0], direct, atol=1e-12)


def test_spectral_references_against_plain_dft_matrices() -> None:
    pr = make_problem(SUITES["fnet"].quick_cases[0])
    x = pr.inputs["x"][0].astype(np.float64)
    s, d = x.shape
    fs = np.exp(-2j * np.pi * np.outer(np.arange(s), np.arange(s)) / s)
    fd = np.exp(-2j * np.pi * np.outer(np.arange(d), np.arange(d)) / d)
    np.testing.assert_allclose(reference(pr)[0], (fs @ x @ fd).real, atol=1e-9)

    pr = make_problem(SUITES["gfnet"].quick_cases[0])
    x = pr.inputs["x"][0].astype(np.float64)  # (H, W, C)
    cw = pr.weights["complex_weight"].astype(np.float64)
    h, w, _ = x.shape
    full = np.fft.fft2(x, axes=(0, 1), norm="ortho")
    weight = np.zeros((h, w, cw.shape[2]), complex)  # Hermitian extension of the half filter
    half = cw[..., 0] + 1j * cw[..., 1]
    weight[:, : w // 2 + 1] = half
    rows = (-np.arange(h)) % h
    weight[:, w // 2 + 1 :] = np.conj(half[rows][:, 1 : w - w // 2][:, ::-1])
    # irfft2 keeps the real part, i.e. the Hermitian part of the product
    sym = np.fft.ifft2(full * weight, axes=(0, 1), norm="ortho").real
    np.testing.assert_allclose(reference(pr)[0], sym, atol=1e-9)


def test_timing_policy() -> None:
    s = Settings(threads=1, repeat=20, min_time_s=0.5, max_time_s=10.0)
    assert runs_for(s, 1e-3) == 500  # min time beats --repeat
    assert runs_for(s, 0.1) == 20
    assert runs_for(s, 2.0) == 5  # max time caps --repeat
    assert runs_for(s, 60.0) == MIN_RUNS
    assert runs_for(Settings(threads=1, repeat=1, min_time_s=0, max_time_s=0), 60.0) == 1
    unbounded = Settings(threads=1, repeat=20, min_time_s=math.inf, max_time_s=math.inf)
    assert runs_for(unbounded, 1e-3) == MAX_RUNS  # no OverflowError from inf


def test_python_timing_stops_at_the_time_budget() -> None:
    calls: list[int] = []

    def slow() -> None:
        calls.append(1)
        time.sleep(0.02)

    t = time_calls(slow, runs=100, max_s=0.05)
    assert t.runs == len(calls) == MIN_RUNS
    assert t.min_ms >= 20
    assert time_calls(lambda: None, runs=7).runs == 7
