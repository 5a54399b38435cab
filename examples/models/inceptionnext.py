"""InceptionNeXt: inception depthwise convolution (identity, square and band kernels).

Follows Yu et al., "InceptionNeXt: When Inception Meets ConvNeXt" (CVPR 2024,
arXiv 2303.16900) and sail-sg/inceptionnext: the token mixer splits channels into an
identity part and three branches of `C/8` channels each, a 3x3, a 1x11 and an 11x1
depthwise conv, concatenated back; MetaNeXt block = mixer -> BN -> 1x1 conv MLP (GELU) ->
layer scale -> residual; the head is pool -> Linear -> GELU -> LayerNorm -> Linear.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from .registry import ExampleSpec


class InceptionDWConv2d(nn.Module):
    """Split channels into (identity, 3x3, 1x11, 11x1) depthwise branches and concatenate."""

    def __init__(self, channels: int, square: int = 3, band: int = 11, ratio: float = 0.125):
        super().__init__()
        branch = int(channels * ratio)
        self.split_sizes = [channels - 3 * branch, branch, branch, branch]
        self.dwconv_hw = nn.Conv2d(branch, branch, square, padding=square // 2, groups=branch)
        self.dwconv_w = nn.Conv2d(branch, branch, (1, band), padding=(0, band // 2), groups=branch)
        self.dwconv_h = nn.Conv2d(branch, branch, (band, 1), padding=(band // 2, 0), groups=branch)

    def forward(self, x: Tensor) -> Tensor:
        x_id, x_hw, x_w, x_h = torch.split(x, self.split_sizes, dim=1)
        return torch.cat(
            [x_id, self.dwconv_hw(x_hw), self.dwconv_w(x_w), self.dwconv_h(x_h)], dim=1
        )


class MetaNeXtBlock(nn.Module):
    """x + gamma * mlp(bn(mixer(x))) with a 1x1-conv MLP."""

    def __init__(self, channels: int, layer_scale: float = 0.5) -> None:
        super().__init__()
        self.token_mixer = InceptionDWConv2d(channels)
        self.norm = nn.BatchNorm2d(channels)
        self.fc1 = nn.Conv2d(channels, 4 * channels, 1)
        self.fc2 = nn.Conv2d(4 * channels, channels, 1)
        self.gamma = nn.Parameter(layer_scale * torch.ones(channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc2(functional.gelu(self.fc1(self.norm(self.token_mixer(x)))))
        return x + self.gamma * y


class InceptionNeXt(nn.Module):
    """Stem 4x4/4 + BN, one block per stage, BN + 2x2/2 downsampling, MLP head."""

    def __init__(self, dims: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        c1, c2 = dims
        self.stem = nn.Sequential(nn.Conv2d(3, c1, 4, stride=4), nn.BatchNorm2d(c1))
        self.stage1 = MetaNeXtBlock(c1)
        self.downsample = nn.Sequential(nn.BatchNorm2d(c1), nn.Conv2d(c1, c2, 2, stride=2))
        self.stage2 = MetaNeXtBlock(c2)
        self.head = nn.Sequential(
            nn.Linear(c2, 3 * c2), nn.GELU(), nn.LayerNorm(3 * c2), nn.Linear(3 * c2, num_classes)
        )

    def forward(self, image: Tensor) -> Tensor:
        x = self.stage2(self.downsample(self.stage1(self.stem(image))))
        return self.head(x.mean(dim=(2, 3)))


EXAMPLES = [
    ExampleSpec(
        name="inceptionnext",
        group="zoo",
        factory=lambda: InceptionNeXt(dims=(48, 96), num_classes=10),
        input_shapes=((1, 3, 64, 64),),
        input_names=("image",),
        output_names=("logits",),
        summary="InceptionNeXt, inception DW conv @16x16x48 and @8x8x96, 10 classes",
    ),
]
