"""What the GPU table is measured against, without a GPU: FlashFFTConv's published H100
times, nominal HBM bandwidths by device name, the bandwidth floor, and the tolerances.

The floor of a case is the time to read ``u`` and write ``y`` once at the device's HBM
bandwidth: ``2 * B * H * L * itemsize / bandwidth``.  It counts neither the gates
(``pre`` and ``post``, which a fused kernel must read as well: with them the floor is
twice as high) nor the filter; it is the lower bound the issue asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fftc.bench.suites import Case

#: FlashFFTConv's published H100 times (ms) for the gated convolution at B=64, H=768,
#: by sequence length (Fu et al., "FlashFFTConv", 2023); not measured here
FLASHFFTCONV_H100_MS: dict[int, float] = {
    1024: 0.29,
    4096: 1.43,
    8192: 3.58,
    16384: 12.2,
    32768: 26.3,
}

#: nominal HBM bandwidths (bytes/s), matched against the CUDA device name in order
NOMINAL_BANDWIDTH: tuple[tuple[str, str, float], ...] = (
    (r"H200", "H200", 4.8e12),
    (r"H100.*PCIe", "H100 PCIe", 2.0e12),
    (r"H100.*(SXM|HBM3)", "H100 SXM", 3.35e12),
    (r"A100.*80GB", "A100 80GB", 2.0e12),
)

#: bytes per element of each ``--dtype``
ITEMSIZE = {"fp32": 4, "fp16": 2, "bf16": 2}

#: default flag threshold of max|out - ref| / max|ref| against PyTorch's float32 FFT
#: convolution, by dtype: fp16 as FlashFFTConv's tests (1e-2); bf16 has 3 fewer mantissa
#: bits than fp16
GPU_RTOL = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 5e-2}


@dataclass(frozen=True)
class Bandwidth:
    """The HBM bandwidth the floor uses, and where it comes from."""

    bytes_per_s: float
    #: e.g. "H100 SXM nominal" or "measured: device-to-device copy"
    source: str

    def describe(self) -> str:
        return f"{self.bytes_per_s / 1e12:.2f} TB/s ({self.source})"


@dataclass(frozen=True)
class GpuInfo:
    """The device the GPU suite ran on."""

    name: str
    compute_capability: str
    memory_gib: float
    bandwidth: Bandwidth

    def describe(self) -> str:
        return f"{self.name} ({self.compute_capability}, {self.memory_gib:g} GiB)"

    def to_json(self) -> dict[str, Any]:
        return {
            "gpu": self.name,
            "compute_capability": self.compute_capability,
            "gpu_memory_gib": self.memory_gib,
            "bandwidth_bytes_per_s": self.bandwidth.bytes_per_s,
            "bandwidth_source": self.bandwidth.source,
        }


def nominal_bandwidth(device_name: str) -> Bandwidth | None:
    """The nominal bandwidth of a device by its CUDA name (``NVIDIA H100 80GB HBM3``),
    or None for a device the table does not know."""
    for pattern, label, bandwidth in NOMINAL_BANDWIDTH:
        if re.search(pattern, device_name, re.IGNORECASE):
            return Bandwidth(bandwidth, f"{label} nominal")
    return None


def io_bytes(case: Case) -> int:
    """Bytes of ``u`` read plus ``y`` written."""
    elements = case.param("B") * case.param("H") * case.param("L")
    return 2 * elements * ITEMSIZE[case.dtype]


def floor_ms(case: Case, bandwidth: Bandwidth) -> float:
    """The bandwidth floor: :func:`io_bytes` at ``bandwidth``, in milliseconds."""
    return io_bytes(case) / bandwidth.bytes_per_s * 1e3


def flashfftconv_ms(case: Case) -> float | None:
    """FlashFFTConv's published H100 time for the case's length, at its shape only."""
    if (case.param("B"), case.param("H")) != (64, 768) or case.dtype == "fp32":
        return None
    return FLASHFFTCONV_H100_MS.get(case.param("L"))


def case_bytes(case: Case) -> int:
    """Device memory a case needs at the least: three inputs and the output in the
    case's dtype, and the float32 reference (the implementations' work space comes on
    top: several float32 arrays of B*H*(2L) for the FFTs)."""
    elements = case.param("B") * case.param("H") * case.param("L")
    return elements * (4 * ITEMSIZE[case.dtype] + 4)
