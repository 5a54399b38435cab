"""AFNO: adaptive Fourier neural operator token mixing (FourCastNet's backbone).

Follows Guibas et al., "Adaptive Fourier Neural Operators: Efficient Token Mixers for
Transformers" (ICLR 2022, arXiv 2111.13587) and the `AFNO2D` layer of FourCastNet (Pathak et
al., arXiv 2202.11214): rfft2 over the token grid, a block-diagonal two-layer complex MLP
shared by all frequencies (weights stored as real/imaginary pairs, complex products written
in real arithmetic with einsum), soft-shrinkage for sparsity, irfft2, and a skip. All modes
are kept (hard_thresholding_fraction = 1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional

from .layers import FeedForward
from .registry import ExampleSpec


def block_linear(x_re: Tensor, x_im: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Complex block-diagonal matmul: (..., blocks, i) x (2, blocks, i, o) -> (..., blocks, o)."""
    w_re, w_im = weight[0], weight[1]
    y_re = torch.einsum("...bi,bio->...bo", x_re, w_re) - torch.einsum(
        "...bi,bio->...bo", x_im, w_im
    )
    y_im = torch.einsum("...bi,bio->...bo", x_im, w_re) + torch.einsum(
        "...bi,bio->...bo", x_re, w_im
    )
    return y_re, y_im


class AFNO2D(nn.Module):
    """AFNO filter on (B, H, W, C) with `blocks` diagonal blocks."""

    def __init__(self, channels: int, blocks: int, sparsity_threshold: float = 0.01) -> None:
        super().__init__()
        self.blocks = blocks
        block_size = channels // blocks
        scale = 1.0 / math.sqrt(block_size)
        self.w1 = nn.Parameter(scale * torch.randn(2, blocks, block_size, block_size))
        self.b1 = nn.Parameter(0.02 * torch.randn(2, blocks, block_size))
        self.w2 = nn.Parameter(scale * torch.randn(2, blocks, block_size, block_size))
        self.b2 = nn.Parameter(0.02 * torch.randn(2, blocks, block_size))
        self.sparsity_threshold = sparsity_threshold

    def forward(self, x: Tensor) -> Tensor:
        batch, height, width, channels = x.shape
        spectrum = torch.view_as_real(torch.fft.rfft2(x, dim=(1, 2), norm="ortho"))
        spectrum = spectrum.reshape(batch, height, width // 2 + 1, self.blocks, -1, 2)
        h_re, h_im = block_linear(spectrum[..., 0], spectrum[..., 1], self.w1)
        h_re, h_im = functional.relu(h_re + self.b1[0]), functional.relu(h_im + self.b1[1])
        o_re, o_im = block_linear(h_re, h_im, self.w2)
        out = torch.stack([o_re + self.b2[0], o_im + self.b2[1]], dim=-1)
        out = functional.softshrink(out, lambd=self.sparsity_threshold)
        out = out.reshape(batch, height, width // 2 + 1, channels, 2)
        y = torch.fft.irfft2(
            torch.view_as_complex(out), s=(height, width), dim=(1, 2), norm="ortho"
        )
        return y + x


class AFNOBlock(nn.Module):
    """FourCastNet block with double skip: x + filter(LN(x)), then + MLP(LN(.))."""

    def __init__(self, channels: int, blocks: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.filter = AFNO2D(channels, blocks)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = FeedForward(channels, 4 * channels)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.filter(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class AFNONet(nn.Module):
    """Patch embedding, AFNO blocks, and a per-patch linear head back to an image."""

    def __init__(
        self, image_size: int, patch: int, in_channels: int, out_channels: int, channels: int
    ) -> None:
        super().__init__()
        self.patch, self.out_channels = patch, out_channels
        grid = image_size // patch
        self.patch_embed = nn.Conv2d(in_channels, channels, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.randn(1, grid, grid, channels) * 0.02)
        self.blocks = nn.Sequential(AFNOBlock(channels, 4), AFNOBlock(channels, 4))
        self.head = nn.Linear(channels, out_channels * patch * patch, bias=False)

    def forward(self, fields: Tensor) -> Tensor:
        x = self.patch_embed(fields).permute(0, 2, 3, 1) + self.pos_embed  # (B, h, w, C)
        x = self.head(self.blocks(x))  # (B, h, w, p * p * out)
        batch, grid_h, grid_w, _ = x.shape
        x = x.reshape(batch, grid_h, grid_w, self.patch, self.patch, self.out_channels)
        x = x.permute(0, 5, 1, 3, 2, 4)  # (B, out, h, p, w, p)
        return x.reshape(batch, self.out_channels, grid_h * self.patch, grid_w * self.patch)


EXAMPLES = [
    ExampleSpec(
        name="afno",
        group="zoo",
        factory=lambda: AFNONet(image_size=32, patch=2, in_channels=3, out_channels=3, channels=64),
        input_shapes=((1, 3, 32, 32),),
        input_names=("fields",),
        output_names=("prediction",),
        summary="FourCastNet-style AFNO: 2x2 patches of 3x32x32 fields, 16x16x64 tokens, 2 blocks",
    ),
]
