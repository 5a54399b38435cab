"""Shared fixtures and markers.

Markers: ``gpu`` tests skip without an NVIDIA GPU; ``torch`` tests skip
without PyTorch; ``slow`` marks tests over ~30 s (run by default).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _has_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        import tvm

        return bool(tvm.cuda(0).exist)
    except Exception:
        return False


@pytest.fixture(autouse=True)
def _no_shipped_tuning_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test compiles with the default schedules unless it names a log: the shipped
    logs of tuning_logs/ (applied automatically on a matching CPU) are turned off."""
    monkeypatch.setenv("FFTC_TUNING_LOGS", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu = _has_gpu()
    has_torch = importlib.util.find_spec("torch") is not None
    for item in items:
        if "gpu" in item.keywords and not gpu:
            item.add_marker(pytest.mark.skip(reason="needs an NVIDIA GPU"))
        if "torch" in item.keywords and not has_torch:
            item.add_marker(pytest.mark.skip(reason="needs PyTorch"))


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES
