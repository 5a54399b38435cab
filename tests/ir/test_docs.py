"""docs/ir.md is generated from the op registry and must stay in sync."""

from __future__ import annotations

from fftc.ir.docgen import render
from tests.conftest import ROOT


def test_ir_reference_is_up_to_date():
    committed = (ROOT / "docs" / "ir.md").read_text()
    assert committed == render(), "run: python -m fftc.ir.docgen > docs/ir.md"
