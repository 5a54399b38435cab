"""RepLKNet: 31x31 depthwise convolutions with structural re-parameterisation.

Follows Ding et al., "Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in
CNNs" (CVPR 2022, arXiv 2203.06717) and DingXiaoH/RepLKNet-pytorch, in training form (the
parallel small-kernel branch not merged): RepLK block = BN -> 1x1 conv-BN-ReLU -> large
depthwise conv-BN (+ 5x5 depthwise conv-BN) -> ReLU -> 1x1 conv-BN -> residual; ConvFFN =
BN -> 1x1 conv-BN -> GELU -> 1x1 conv-BN -> residual.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional

from .layers import conv_bn
from .registry import ExampleSpec


class ReparamLargeKernelConv(nn.Module):
    """Depthwise KxK conv-BN, plus (optionally) a parallel small depthwise conv-BN."""

    def __init__(self, channels: int, kernel_size: int, small_kernel: int | None) -> None:
        super().__init__()
        self.large = conv_bn(channels, channels, kernel_size, groups=channels)
        self.small = (
            conv_bn(channels, channels, small_kernel, groups=channels) if small_kernel else None
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.large(x)
        return out if self.small is None else out + self.small(x)


class RepLKBlock(nn.Module):
    """x + pw2(relu(large_kernel(pw1(bn(x)))))."""

    def __init__(self, channels: int, kernel_size: int, small_kernel: int | None = 5) -> None:
        super().__init__()
        self.pre_bn = nn.BatchNorm2d(channels)
        self.pw1 = conv_bn(channels, channels, 1, relu=True)
        self.large_kernel = ReparamLargeKernelConv(channels, kernel_size, small_kernel)
        self.pw2 = conv_bn(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.large_kernel(self.pw1(self.pre_bn(x)))
        return x + self.pw2(functional.relu(y))


class ConvFFN(nn.Module):
    """x + pw2(gelu(pw1(bn(x)))) with 1x1 conv-BN layers."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.pre_bn = nn.BatchNorm2d(channels)
        self.pw1 = conv_bn(channels, hidden, 1)
        self.pw2 = conv_bn(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.pw2(functional.gelu(self.pw1(self.pre_bn(x))))


class RepLKNet(nn.Module):
    """Stem (/4), stage 1 (31x31), transition (/2), stage 2 (27x27), BN + pool + head."""

    def __init__(self, dims: tuple[int, int], kernels: tuple[int, int], num_classes: int):
        super().__init__()
        c1, c2 = dims
        self.stem = nn.Sequential(
            conv_bn(3, c1, 3, stride=2, relu=True),
            conv_bn(c1, c1, 3, groups=c1, relu=True),
            conv_bn(c1, c1, 1, relu=True),
            conv_bn(c1, c1, 3, stride=2, groups=c1, relu=True),
        )
        self.stage1 = nn.Sequential(RepLKBlock(c1, kernels[0]), ConvFFN(c1, 4 * c1))
        self.transition = nn.Sequential(
            conv_bn(c1, c2, 1, relu=True), conv_bn(c2, c2, 3, stride=2, groups=c2, relu=True)
        )
        self.stage2 = nn.Sequential(RepLKBlock(c2, kernels[1]), ConvFFN(c2, 4 * c2))
        self.norm = nn.BatchNorm2d(c2)
        self.head = nn.Linear(c2, num_classes)

    def forward(self, image: Tensor) -> Tensor:
        x = self.stage2(self.transition(self.stage1(self.stem(image))))
        return self.head(self.norm(x).mean(dim=(2, 3)))


EXAMPLES = [
    ExampleSpec(
        name="dwconv31_block",
        group="onnx",
        factory=lambda: RepLKBlock(32, 31, small_kernel=None),
        input_shapes=((1, 32, 32, 32),),
        input_names=("x",),
        output_names=("y",),
        summary="RepLKNet block with a 31x31 depthwise conv (no small branch), C 32 at 32x32",
    ),
    ExampleSpec(
        name="replknet",
        group="zoo",
        factory=lambda: RepLKNet(dims=(32, 64), kernels=(31, 27), num_classes=10),
        input_shapes=((1, 3, 128, 128),),
        input_names=("image",),
        output_names=("logits",),
        summary="RepLKNet, 128x128 input, 31x31 @32x32x32 and 27x27 @16x16x64, 10 classes",
    ),
]
