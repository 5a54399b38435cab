"""spectral-fusion's residual rule (``fftc/passes/spectral_residual.py``): the
``D * u`` skip term folded into the fft_conv's constant spectrum.

Numerics: the compiled graph against the unfused graph evaluated in float64
(``_check_numerics``: 1e-5 relative, see test_spectral_fusion.py)."""

from __future__ import annotations

import numpy as np
import pytest

from fftc.passes.spectral_residual import Residual, _fold_rows

from .test_spectral_fusion import _check_numerics, _fused, hyena_pattern


@pytest.mark.parametrize(
    "kwargs",
    [
        {"skip": (4, 1)},
        {"skip": (4, 1), "swap": True},
        {"skip": (1, 4, 1)},
        {"skip": ()},
        {"skip": (3, 1), "rows": (2, 3), "length": 97, "n": 194},
    ],
    ids=["per-channel", "operands-swapped", "leading-unit-dim", "scalar", "bluestein-97"],
)
def test_skip_term_folds_into_the_spectrum(kwargs):
    graph = hyena_pattern(**kwargs)
    out, ctx = _fused(graph)
    assert [n.op for n in out.nodes] == ["fft_conv", "mul"]
    assert any("K + D" in str(d) and "not fft_conv" not in str(d) for d in ctx.decisions)
    _check_numerics(graph)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"skip": (16,)}, "varies along the convolution's axis"),
        ({"skip": (4, 1), "runtime": True}, "computed at run time"),
    ],
)
def test_skip_term_that_cannot_fold_is_kept_with_a_reason(kwargs, reason):
    graph = hyena_pattern(**kwargs)
    out, ctx = _fused(graph)
    assert [n.op for n in out.nodes].count("add") == 1
    reasons = [str(d) for d in ctx.decisions if "K + D" in str(d)]
    assert reasons
    assert all(reason in r for r in reasons), reasons
    _check_numerics(graph)


def test_a_shared_spectrum_is_not_multiplied_by_a_per_channel_d():
    assert "would turn" in str(_fold_rows((1,), np.ones((4, 1))))
    d = np.arange(4.0).reshape(4, 1)
    rows = _fold_rows((4,), d)
    assert rows == (4,)
    folded = Residual(None, np.zeros((4, 5, 2), np.float32), d, rows).folded()  # type: ignore[arg-type]
    assert folded.dtype == np.float32
    np.testing.assert_array_equal(folded[..., 0], np.repeat(np.arange(4.0)[:, None], 5, 1))
    np.testing.assert_array_equal(folded[..., 1], 0)
