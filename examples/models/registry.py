"""What an example is: a seeded PyTorch module, its example inputs, and how to export it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

Shape = tuple[int, ...]
Group = Literal["onnx", "zoo", "dynamic"]


@dataclass(frozen=True)
class ExampleSpec:
    """One exported example.

    `group` picks the output folder: "onnx" for the headline examples, "zoo" for the
    one-model-per-family set, "dynamic" for models with symbolic dims (pin them with
    --input-shape). `dynamic_shapes` (keyed by forward-argument name) turns on
    symbolic dimensions; `extra_input_shapes` lists further input shapes the exported model
    is checked at (only meaningful with dynamic dimensions).
    """

    name: str
    group: Group
    factory: Callable[[], nn.Module]
    input_shapes: tuple[Shape, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    summary: str
    dynamic_shapes: Mapping[str, Mapping[int, Any]] | None = None
    extra_input_shapes: tuple[tuple[Shape, ...], ...] = field(default_factory=tuple)
    seed: int = 0

    def build(self) -> nn.Module:
        """Build the module with deterministic weights, in eval mode."""
        torch.manual_seed(self.seed)
        module = self.factory()
        randomize_batchnorm_statistics(module)
        return module.eval()

    def inputs(self, shapes: tuple[Shape, ...] | None = None, seed: int = 1) -> tuple[Any, ...]:
        """Standard-normal float32 inputs of the given shapes (default: `input_shapes`)."""
        generator = torch.Generator().manual_seed(seed)
        return tuple(
            torch.randn(shape, generator=generator, dtype=torch.float32)
            for shape in (shapes or self.input_shapes)
        )


def randomize_batchnorm_statistics(module: nn.Module) -> None:
    """Give every BatchNorm non-trivial running statistics and affine parameters.

    Freshly built BatchNorm layers are identities in eval mode (mean 0, var 1, weight 1,
    bias 0), which would hide mistakes in how a compiler folds them.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d):
                layer.running_mean.normal_(0.0, 0.1)
                layer.running_var.uniform_(0.5, 1.5)
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.normal_(0.0, 0.1)
