"""FNO: Fourier neural operator with 2-D spectral convolutions, in real arithmetic.

Follows Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations"
(ICLR 2021, arXiv 2010.08895) and its `FNO2d`/`SpectralConv2d`: lift (a(x), x, y) to a
width, then layers `gelu(SpectralConv(v) + W v)`, then project. The spectral convolution
keeps the lowest `modes` frequencies (both signs along H, non-negative along W) and mixes
channels with an einsum per mode. Its weights are stored as real (..., 2) tensors and the
complex products are written in real arithmetic, because complex parameters do not export;
mode selection is slicing, and the discarded modes are zeros joined by Concat and Pad.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from .registry import ExampleSpec


def mix_channels(x: Tensor, weight: Tensor) -> Tensor:
    """Complex einsum 'bixy,ioxy->boxy' on (..., 2) real pairs."""
    x_re, x_im = x[..., 0], x[..., 1]
    w_re, w_im = weight[..., 0], weight[..., 1]
    real = torch.einsum("bixy,ioxy->boxy", x_re, w_re) - torch.einsum("bixy,ioxy->boxy", x_im, w_im)
    imag = torch.einsum("bixy,ioxy->boxy", x_re, w_im) + torch.einsum("bixy,ioxy->boxy", x_im, w_re)
    return torch.stack([real, imag], dim=-1)


class SpectralConv2d(nn.Module):
    """Spectral convolution on (B, C, H, W) keeping `modes` x `modes` corner frequencies."""

    def __init__(self, in_channels: int, out_channels: int, modes: int) -> None:
        super().__init__()
        self.modes = modes
        self.out_channels = out_channels
        scale = 1.0 / (in_channels * out_channels)
        shape = (in_channels, out_channels, modes, modes, 2)
        self.weight_low = nn.Parameter(scale * torch.rand(shape))  # rows 0..m-1
        self.weight_high = nn.Parameter(scale * torch.rand(shape))  # rows H-m..H-1

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        modes = self.modes
        spectrum = torch.view_as_real(torch.fft.rfft2(x))  # (B, C, H, W/2+1, 2)
        low = mix_channels(spectrum[:, :, :modes, :modes], self.weight_low)
        high = mix_channels(spectrum[:, :, -modes:, :modes], self.weight_high)
        middle = low.new_zeros(batch, self.out_channels, height - 2 * modes, modes, 2)
        kept = torch.cat([low, middle, high], dim=2)  # (B, O, H, modes, 2)
        padded = functional.pad(kept, (0, 0, 0, width // 2 + 1 - modes))  # zero the high W modes
        return torch.fft.irfft2(torch.view_as_complex(padded), s=(height, width))


class FNO2d(nn.Module):
    """FNO on a (B, H, W, 1) field; the (x, y) grid is appended as input channels."""

    def __init__(self, size: int, modes: int, width: int, n_layers: int) -> None:
        super().__init__()
        coordinates = torch.linspace(0.0, 1.0, size)
        grid_x, grid_y = torch.meshgrid(coordinates, coordinates, indexing="ij")
        self.register_buffer("grid", torch.stack([grid_x, grid_y], dim=-1)[None])
        self.lift = nn.Linear(3, width)
        self.spectral = nn.ModuleList(SpectralConv2d(width, width, modes) for _ in range(n_layers))
        self.pointwise = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(n_layers))
        self.project = nn.Sequential(nn.Linear(width, 64), nn.GELU(), nn.Linear(64, 1))

    def forward(self, field: Tensor) -> Tensor:
        grid = self.grid.expand(field.shape[0], -1, -1, -1)
        v = self.lift(torch.cat([field, grid], dim=-1)).permute(0, 3, 1, 2)  # (B, width, H, W)
        last = len(self.spectral) - 1
        for index, (spectral, pointwise) in enumerate(
            zip(self.spectral, self.pointwise, strict=True)
        ):
            v = spectral(v) + pointwise(v)
            if index < last:
                v = functional.gelu(v)
        return self.project(v.permute(0, 2, 3, 1))


EXAMPLES = [
    ExampleSpec(
        name="fno",
        group="zoo",
        factory=lambda: FNO2d(size=32, modes=8, width=16, n_layers=2),
        input_shapes=((1, 32, 32, 1),),
        input_names=("field",),
        output_names=("solution",),
        summary="FNO2d on a 32x32 field, 8x8 modes, width 16, 2 Fourier layers",
    ),
]
