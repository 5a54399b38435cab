"""GFNet: global filter layers (learned elementwise filters in the 2-D frequency domain).

Follows Rao et al., "Global Filter Networks for Image Classification" (NeurIPS 2021,
arXiv 2107.00645): `irfft2(rfft2(x) * W)` over the (H, W) token grid with a learned complex
filter W stored as a real (H, W/2+1, C, 2) parameter, inside pre-norm blocks
`x + MLP(LN(GlobalFilter(LN(x))))`, after a patch embedding and before a pooled head.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import FeedForward
from .registry import ExampleSpec


class GlobalFilter(nn.Module):
    """y = irfft2(rfft2(x) * W) over axes (1, 2) of a (B, H, W, C) tensor, norm='ortho'."""

    def __init__(self, height: int, width: int, channels: int) -> None:
        super().__init__()
        self.height, self.width = height, width
        self.complex_weight = nn.Parameter(torch.randn(height, width // 2 + 1, channels, 2) * 0.02)

    def forward(self, x: Tensor) -> Tensor:
        spectrum = torch.fft.rfft2(x, dim=(1, 2), norm="ortho")
        spectrum = spectrum * torch.view_as_complex(self.complex_weight)
        return torch.fft.irfft2(spectrum, s=(self.height, self.width), dim=(1, 2), norm="ortho")


class GFNetBlock(nn.Module):
    """x + MLP(LN(GlobalFilter(LN(x)))) on (B, H, W, C)."""

    def __init__(self, height: int, width: int, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.filter = GlobalFilter(height, width, channels)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = FeedForward(channels, 4 * channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mlp(self.norm2(self.filter(self.norm1(x))))


class GFNet(nn.Module):
    """Patch embedding, global filter blocks, LayerNorm, mean pooling, linear head."""

    def __init__(
        self, image_size: int, patch: int, channels: int, depth: int, num_classes: int
    ) -> None:
        super().__init__()
        grid = image_size // patch
        self.patch_embed = nn.Conv2d(3, channels, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.randn(1, grid, grid, channels) * 0.02)
        self.blocks = nn.Sequential(*(GFNetBlock(grid, grid, channels) for _ in range(depth)))
        self.norm = nn.LayerNorm(channels)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, image: Tensor) -> Tensor:
        x = self.patch_embed(image).permute(0, 2, 3, 1) + self.pos_embed  # (B, H, W, C)
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=(1, 2)))


EXAMPLES = [
    ExampleSpec(
        name="gfnet_filter",
        group="onnx",
        factory=lambda: GlobalFilter(14, 14, 64),
        input_shapes=((1, 14, 14, 64),),
        input_names=("x",),
        output_names=("y",),
        summary="GFNet global filter layer, 14x14 tokens x 64 channels (channels last)",
    ),
    ExampleSpec(
        name="gfnet",
        group="zoo",
        factory=lambda: GFNet(image_size=56, patch=4, channels=64, depth=2, num_classes=10),
        input_shapes=((1, 3, 56, 56),),
        input_names=("image",),
        output_names=("logits",),
        summary="GFNet: 4x4 patches of a 56x56 image, 14x14x64 tokens, 2 blocks, 10 classes",
    ),
]
