"""FNet: token mixing by the real part of a 2-D Fourier transform.

Follows Lee-Thorp et al., "FNet: Mixing Tokens with Fourier Transforms" (NAACL 2022,
arXiv 2105.03824): the attention sublayer is replaced by `Re(FFT_seq(FFT_hidden(x)))`,
followed (post-norm, as in BERT) by LayerNorm, a GELU feed-forward and LayerNorm. The
exporter runs the 2-D transform as full complex DFTs with a zero imaginary part.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import FeedForward
from .registry import ExampleSpec


class FNetLayer(nn.Module):
    """One FNet encoder layer on (B, L, D)."""

    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.mixing_norm = nn.LayerNorm(d_model, eps=1e-12)
        self.feed_forward = FeedForward(d_model, hidden)
        self.output_norm = nn.LayerNorm(d_model, eps=1e-12)

    def forward(self, x: Tensor) -> Tensor:
        mixed = torch.fft.fft2(x, dim=(-2, -1)).real
        x = self.mixing_norm(x + mixed)
        return self.output_norm(x + self.feed_forward(x))


class FNetEncoder(nn.Module):
    """A stack of FNet layers on embedded tokens."""

    def __init__(self, d_model: int, hidden: int, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(FNetLayer(d_model, hidden) for _ in range(n_layers))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


EXAMPLES = [
    ExampleSpec(
        name="fnet_mixing",
        group="onnx",
        factory=lambda: FNetLayer(d_model=64, hidden=256),
        input_shapes=((1, 128, 64),),
        input_names=("x",),
        output_names=("y",),
        summary="one FNet layer, seq 128, hidden 64, FFN 256",
    ),
    ExampleSpec(
        name="fnet",
        group="zoo",
        factory=lambda: FNetEncoder(d_model=64, hidden=256, n_layers=2),
        input_shapes=((1, 128, 64),),
        input_names=("embeddings",),
        output_names=("hidden",),
        summary="2-layer FNet encoder, seq 128, hidden 64",
    ),
]
