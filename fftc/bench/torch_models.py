"""The benchmark cases in PyTorch: the module each ONNX file is exported from, and
PyTorch's own candidate implementations (the baseline reports the fastest of them).

The modules mirror ``examples/models`` (``causal_fft_conv`` in ``layers.py``,
``GlobalFilter`` in ``gfnet.py``, FNet's mixing in ``fnet.py``), which is not part of the
installed package; weights come from :class:`~fftc.bench.suites.Problem` so the exported
model, the PyTorch baselines and the float64 reference share them exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional

from fftc.bench.suites import Problem

#: a candidate implementation: inputs by ONNX input name -> the output
TorchImpl = Callable[[dict[str, Tensor]], Tensor]


def causal_fft_conv(u: Tensor, kernel: Tensor) -> Tensor:
    """Causal long convolution along the last axis with FFTs of size 2L (as in Hyena)."""
    seq_len = u.shape[-1]
    fft_size = 2 * seq_len
    u_f = torch.fft.rfft(u, n=fft_size)
    k_f = torch.fft.rfft(kernel, n=fft_size)
    return torch.fft.irfft(u_f * k_f, n=fft_size)[..., :seq_len]


class GatedLongConv(nn.Module):
    """y = g * (causal_fft_conv(u, k) + D * u) on (1, H, L); k (H, L) and D (H,) constant."""

    def __init__(self, problem: Problem) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.from_numpy(problem.weights["k"].copy()))
        self.D = nn.Parameter(torch.from_numpy(problem.weights["D"].copy()))

    def forward(self, u: Tensor, g: Tensor) -> Tensor:
        return g * (causal_fft_conv(u, self.k) + self.D[:, None] * u)


class DepthwiseConv2d(nn.Module):
    """Conv2d(C, C, k, padding=k//2, groups=C, bias) on (1, C, H, W)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__()
        weight = torch.from_numpy(problem.weights["weight"].copy())
        channels, k = weight.shape[0], weight.shape[-1]
        self.conv = nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            self.conv.bias.copy_(torch.from_numpy(problem.weights["bias"]))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class GlobalFilter(nn.Module):
    """GFNet: irfft2(rfft2(x) * W) over axes (1, 2) of (1, H, W, C), norm='ortho'."""

    def __init__(self, problem: Problem) -> None:
        super().__init__()
        self.complex_weight = nn.Parameter(torch.from_numpy(problem.weights["complex_weight"]))
        self.size = (problem.case.param("H"), problem.case.param("W"))

    def forward(self, x: Tensor) -> Tensor:
        spectrum = torch.fft.rfft2(x, dim=(1, 2), norm="ortho")
        spectrum = spectrum * torch.view_as_complex(self.complex_weight)
        return torch.fft.irfft2(spectrum, s=self.size, dim=(1, 2), norm="ortho")


class FNetMixing(nn.Module):
    """FNet: real(fft(fft(x, dim=-1), dim=-2)) on (1, S, D)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.fft.fft(torch.fft.fft(x, dim=-1), dim=-2).real


_MODULES: dict[str, Callable[[Problem], nn.Module]] = {
    "longconv": GatedLongConv,
    "dwconv2d": DepthwiseConv2d,
    "gfnet": GlobalFilter,
    "fnet": lambda _problem: FNetMixing(),
}


def build_module(problem: Problem) -> nn.Module:
    """The module exported to ONNX for this case, in eval mode."""
    return _MODULES[problem.case.suite](problem).eval()


# -- PyTorch's candidate implementations ---------------------------------------------------


def _longconv_impls(pr: Problem) -> dict[str, TorchImpl]:
    n = pr.case.param("L")
    k_f = torch.fft.rfft(torch.from_numpy(pr.weights["k"]), n=2 * n)  # the constant's spectrum
    d = torch.from_numpy(pr.weights["D"])[:, None]

    def fft(t: dict[str, Tensor]) -> Tensor:
        u = t["u"]
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * n) * k_f, n=2 * n)[..., :n]
        return t["g"] * (y + d * u)

    return {"fft": fft}


def _dwconv2d_impls(pr: Problem) -> dict[str, TorchImpl]:
    weight = torch.from_numpy(pr.weights["weight"])
    bias = torch.from_numpy(pr.weights["bias"])
    c, k, h, w = weight.shape[0], weight.shape[-1], pr.case.param("H"), pr.case.param("W")
    pad = k // 2
    s = (fast_fft_size(h + k - 1), fast_fft_size(w + k - 1))  # linear, not circular
    w_f = torch.fft.rfft2(weight[:, 0].flip(-2, -1), s=s)  # correlation = conv with flipped
    bias4 = bias[None, :, None, None]

    def direct(t: dict[str, Tensor]) -> Tensor:
        return functional.conv2d(t["x"], weight, bias, padding=pad, groups=c)

    def fft(t: dict[str, Tensor]) -> Tensor:
        full = torch.fft.irfft2(torch.fft.rfft2(t["x"], s=s) * w_f, s=s)
        return full[..., pad : pad + h, pad : pad + w] + bias4

    return {"direct": direct, "fft": fft}


def fast_fft_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (86 = 2*43 is 3-7x slower in PyTorch than 90)."""
    size = n
    while True:
        rest = size
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return size
        size += 1


def _gfnet_impls(pr: Problem) -> dict[str, TorchImpl]:
    size = (pr.case.param("H"), pr.case.param("W"))
    cw = torch.from_numpy(pr.weights["complex_weight"])
    weight_cl = torch.view_as_complex(cw)
    weight_cf = weight_cl.permute(2, 0, 1).contiguous()  # (C, H, W//2+1)

    def channels_last(t: dict[str, Tensor]) -> Tensor:
        spectrum = torch.fft.rfft2(t["x"], dim=(1, 2), norm="ortho") * weight_cl
        return torch.fft.irfft2(spectrum, s=size, dim=(1, 2), norm="ortho")

    def channels_first(t: dict[str, Tensor]) -> Tensor:
        x = t["x"].permute(0, 3, 1, 2).contiguous()
        spectrum = torch.fft.rfft2(x, norm="ortho") * weight_cf
        y = torch.fft.irfft2(spectrum, s=size, norm="ortho")
        return y.permute(0, 2, 3, 1).contiguous()

    return {"fft": channels_last, "fft,channels-first": channels_first}


def _fnet_impls(pr: Problem) -> dict[str, TorchImpl]:
    seq, dim = pr.case.param("S"), pr.case.param("D")
    mirrored_rows = (-torch.arange(seq)) % seq

    def fft2(t: dict[str, Tensor]) -> Tensor:
        return torch.fft.fft2(t["x"]).real.contiguous()

    def rfft2(t: dict[str, Tensor]) -> Tensor:
        """Half the spectrum, the other half by Hermitian symmetry X[k] = conj X[-k]."""
        half = torch.fft.rfft2(t["x"]).real  # columns 0 .. D//2
        rest = half.index_select(-2, mirrored_rows)[..., 1 : dim - dim // 2].flip(-1)
        return torch.cat([half, rest], dim=-1)

    return {"fft2": fft2, "rfft2+symmetry": rfft2}


_IMPLS: dict[str, Callable[[Problem], dict[str, TorchImpl]]] = {
    "longconv": _longconv_impls,
    "dwconv2d": _dwconv2d_impls,
    "gfnet": _gfnet_impls,
    "fnet": _fnet_impls,
}


def candidate_impls(problem: Problem) -> dict[str, TorchImpl]:
    """PyTorch's candidate implementations of the case by name (constants precomputed)."""
    return _IMPLS[problem.case.suite](problem)
