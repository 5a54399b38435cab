"""Building blocks shared by several example families."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional


def causal_fft_conv(u: Tensor, kernel: Tensor) -> Tensor:
    """Causal long convolution along the last axis, computed with FFTs of size 2L.

    `y[..., t] = sum_{s <= t} kernel[..., s] * u[..., t - s]`. Zero-padding both operands to
    2L makes the circular convolution of the FFT equal to the linear one on the first L
    outputs (as in H3/Hyena's `fftconv`).
    """
    seq_len = u.shape[-1]
    fft_size = 2 * seq_len
    u_f = torch.fft.rfft(u, n=fft_size)
    k_f = torch.fft.rfft(kernel, n=fft_size)
    return torch.fft.irfft(u_f * k_f, n=fft_size)[..., :seq_len]


def complex_mul(a: Tensor, b: Tensor) -> Tensor:
    """Complex product of tensors stored as real (..., 2) pairs (real, imaginary)."""
    a_re, a_im = a[..., 0], a[..., 1]
    b_re, b_im = b[..., 0], b[..., 1]
    return torch.stack([a_re * b_re - a_im * b_im, a_re * b_im + a_im * b_re], dim=-1)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (ConvNeXt's `channels_first` norm)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=1, keepdim=True)
        var = (x - mean).pow(2).mean(dim=1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class FeedForward(nn.Module):
    """Transformer MLP: Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(functional.gelu(self.fc1(x)))


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    stride: int = 1,
    groups: int = 1,
    dilation: int = 1,
    relu: bool = False,
) -> nn.Sequential:
    """Conv2d (no bias, 'same' padding for stride 1) + BatchNorm2d (+ ReLU)."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    padding = (dilation * (kh - 1) // 2, dilation * (kw - 1) // 2)
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels,
            out_channels,
            (kh, kw),
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)
