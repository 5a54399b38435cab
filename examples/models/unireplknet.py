"""UniRepLKNet: dilated re-parameterised large-kernel blocks with SE and GRN.

Follows Ding et al., "UniRepLKNet: A Universal Perception Large-Kernel ConvNet for Audio,
Video, Point Cloud, Time-Series and Image Recognition" (CVPR 2024, arXiv 2311.15599) and
AILab-CVC/UniRepLKNet, in training form: the Dilated Reparam Block is a 13x13 depthwise
conv-BN plus parallel dilated small-kernel depthwise conv-BN branches (k, r) = (5,1), (7,2),
(3,3), (3,4), (3,5); the block is dilated-reparam -> BN -> SE -> Linear -> GELU -> GRN ->
Linear -> layer scale -> residual.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from .layers import LayerNorm2d, conv_bn
from .registry import ExampleSpec

DILATED_BRANCHES = ((5, 1), (7, 2), (3, 3), (3, 4), (3, 5))  # (kernel, dilation) for 13x13


class DilatedReparamBlock(nn.Module):
    """Large depthwise conv-BN plus dilated small-kernel depthwise conv-BN branches, summed."""

    def __init__(self, channels: int, kernel_size: int = 13) -> None:
        super().__init__()
        self.origin = conv_bn(channels, channels, kernel_size, groups=channels)
        self.branches = nn.ModuleList(
            conv_bn(channels, channels, k, groups=channels, dilation=r) for k, r in DILATED_BRANCHES
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.origin(x)
        for branch in self.branches:
            out = out + branch(x)
        return out


class SqueezeExcite(nn.Module):
    """x * sigmoid(up(relu(down(avgpool(x))))) with 1x1 convolutions."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(channels, reduced, 1)
        self.up = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.up(functional.relu(self.down(x.mean(dim=(2, 3), keepdim=True))))
        return x * torch.sigmoid(scale)


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt V2) on channels-last (B, H, W, C)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(0.1 * torch.randn(1, 1, 1, channels))
        self.beta = nn.Parameter(0.1 * torch.randn(1, 1, 1, channels))

    def forward(self, x: Tensor) -> Tensor:
        spatial_norm = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)
        relative = spatial_norm / (spatial_norm.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * relative) + self.beta + x


class UniRepLKNetBlock(nn.Module):
    """UniRepLKNet block on (B, C, H, W)."""

    def __init__(self, channels: int, layer_scale: float = 0.5) -> None:
        super().__init__()
        self.dwconv = DilatedReparamBlock(channels)
        self.norm = nn.BatchNorm2d(channels)
        self.se = SqueezeExcite(channels, channels // 4)
        self.pwconv1 = nn.Linear(channels, 4 * channels)
        self.grn = GRN(4 * channels)
        self.pwconv2 = nn.Linear(4 * channels, channels)
        self.gamma = nn.Parameter(layer_scale * torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        y = self.se(self.norm(self.dwconv(x))).permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self.pwconv2(self.grn(functional.gelu(self.pwconv1(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class UniRepLKNet(nn.Module):
    """Two-conv stem (/4), one block per stage, 3x3/2 downsampling, pooled LayerNorm head."""

    def __init__(self, dims: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        c1, c2 = dims
        self.stem = nn.Sequential(
            nn.Conv2d(3, c1 // 2, 3, stride=2, padding=1),
            LayerNorm2d(c1 // 2),
            nn.GELU(),
            nn.Conv2d(c1 // 2, c1, 3, stride=2, padding=1),
            LayerNorm2d(c1),
        )
        self.stage1 = UniRepLKNetBlock(c1)
        self.downsample = nn.Sequential(nn.Conv2d(c1, c2, 3, stride=2, padding=1), LayerNorm2d(c2))
        self.stage2 = UniRepLKNetBlock(c2)
        self.norm = nn.LayerNorm(c2, eps=1e-6)
        self.head = nn.Linear(c2, num_classes)

    def forward(self, image: Tensor) -> Tensor:
        x = self.stage2(self.downsample(self.stage1(self.stem(image))))
        return self.head(self.norm(x.mean(dim=(2, 3))))


EXAMPLES = [
    ExampleSpec(
        name="unireplknet",
        group="zoo",
        factory=lambda: UniRepLKNet(dims=(32, 64), num_classes=10),
        input_shapes=((1, 3, 64, 64),),
        input_names=("image",),
        output_names=("logits",),
        summary="UniRepLKNet, 13x13 dilated reparam blocks @16x16x32 and @8x8x64, 10 classes",
    ),
]
