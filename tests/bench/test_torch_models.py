"""PyTorch's candidate implementations and the exported ONNX models agree with the
float64 references (the baselines are only worth comparing with if they are right)."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from fftc.bench.suites import SUITES, Case, make_problem, reference
from fftc.testing import compare

pytestmark = pytest.mark.torch

QUICK = [c for s in SUITES.values() if s.device == "cpu" for c in s.quick_cases]
#: odd and non-power-of-two sizes beyond the quick ones
EXTRA = [
    Case("dwconv2d", "7x7 C=3 9x11", (("k", 7), ("C", 3), ("H", 9), ("W", 11)), 1.0),
    Case("gfnet", "7x9x5", (("H", 7), ("W", 9), ("C", 5)), 1.0),
    Case("fnet", "9x13", (("S", 9), ("D", 13)), 1.0),
]


@pytest.mark.parametrize("case", QUICK + EXTRA, ids=lambda c: c.label)
def test_candidates_match_the_reference(case: Case) -> None:
    import torch

    from fftc.bench.torch_models import build_module, candidate_impls

    pr = make_problem(case, seed=3)
    expected = reference(pr)
    tensors = {n: torch.from_numpy(a) for n, a in pr.inputs.items()}
    impls = candidate_impls(pr)
    assert len(impls) >= 1
    with torch.inference_mode():
        outs = {name: impl(tensors).numpy() for name, impl in impls.items()}
        outs["module"] = build_module(pr)(*tensors.values()).numpy()
    for name, out in outs.items():
        c = compare(name, out, expected, 1e-5)
        assert c.ok, f"{case.label} {name}: {c.max_rel:.2e} (shape {out.shape})"


def test_dwconv2d_offers_direct_and_fft() -> None:
    from fftc.bench.torch_models import candidate_impls

    assert set(candidate_impls(make_problem(SUITES["dwconv2d"].quick_cases[0]))) == {
        "direct",
        "fft",
    }


def test_export_is_cached(tmp_path: Path) -> None:
    from fftc.bench.export import cached_model

    pr = make_problem(SUITES["longconv"].quick_cases[0])
    path, cached = cached_model(pr, tmp_path)
    assert not cached
    assert path.parent == tmp_path
    assert path.name.startswith("longconv-L_32-")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("DFT") == 3  # rfft(u), rfft(k) (folded by fftc, not the exporter), irfft
    assert {i.name for i in onnx.load(str(path)).graph.input} == {"u", "g"}
    mtime = path.stat().st_mtime_ns
    again, cached = cached_model(pr, tmp_path)
    assert (again, cached) == (path, True)
    assert path.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left
