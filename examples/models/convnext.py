"""ConvNeXt: 7x7 depthwise convolutions in an inverted-bottleneck residual block.

Follows Liu et al., "A ConvNet for the 2020s" (CVPR 2022, arXiv 2201.03545) and
facebookresearch/ConvNeXt: block = 7x7 depthwise conv -> LayerNorm (channels last) ->
Linear 4C -> GELU -> Linear C -> layer scale -> residual; a 4x4/4 stem, LayerNorm + 2x2/2
downsampling between stages, global average pooling, LayerNorm and a linear head.
Layer scale starts at 0.5 instead of 1e-6 so the block's branch shows in the output.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from .layers import LayerNorm2d
from .registry import ExampleSpec


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block on (B, C, H, W)."""

    def __init__(self, channels: int, layer_scale: float = 0.5) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.pwconv1 = nn.Linear(channels, 4 * channels)
        self.pwconv2 = nn.Linear(4 * channels, channels)
        self.gamma = nn.Parameter(layer_scale * torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self.pwconv2(functional.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    """A two-stage ConvNeXt classifier."""

    def __init__(self, dims: tuple[int, int], depths: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0]))
        self.stage1 = nn.Sequential(*(ConvNeXtBlock(dims[0]) for _ in range(depths[0])))
        self.downsample = nn.Sequential(
            LayerNorm2d(dims[0]), nn.Conv2d(dims[0], dims[1], 2, stride=2)
        )
        self.stage2 = nn.Sequential(*(ConvNeXtBlock(dims[1]) for _ in range(depths[1])))
        self.norm = nn.LayerNorm(dims[1], eps=1e-6)
        self.head = nn.Linear(dims[1], num_classes)

    def forward(self, image: Tensor) -> Tensor:
        x = self.stage2(self.downsample(self.stage1(self.stem(image))))
        return self.head(self.norm(x.mean(dim=(2, 3))))


EXAMPLES = [
    ExampleSpec(
        name="convnext_block",
        group="onnx",
        factory=lambda: ConvNeXtBlock(48),
        input_shapes=((1, 48, 28, 28),),
        input_names=("x",),
        output_names=("y",),
        summary="ConvNeXt block, C 48 at 28x28",
    ),
    ExampleSpec(
        name="convnext",
        group="zoo",
        factory=lambda: ConvNeXt(dims=(48, 96), depths=(2, 2), num_classes=10),
        input_shapes=((1, 3, 64, 64),),
        input_names=("image",),
        output_names=("logits",),
        summary="ConvNeXt, stem 4x4/4, stages 48x2 @16x16 and 96x2 @8x8, 10 classes",
    ),
]
