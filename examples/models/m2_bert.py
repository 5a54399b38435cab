"""M2-BERT: Monarch Mixer layers (gated bidirectional long convolution + Monarch MLP).

Follows Fu et al., "Monarch Mixer: A Simple Sub-Quadratic GEMM-Based Architecture"
(NeurIPS 2023, arXiv 2310.12109) and HazyResearch/m2's `MonarchMixerSequenceMixing` and
BERT GLU MLP, in the post-norm BERT arrangement:

- sequence mixing: in-projection to (x1, x2, v), short depthwise conv, `v * x1`, a
  bidirectional long convolution by FFT (Hyena implicit filters for both directions, one
  circular convolution of size 2L), `* x2`, out-projection;
- dimension mixing: a GLU MLP whose linear maps are Monarch matrices
  M = P R P^T L (two block-diagonal factors and a stride permutation), computed with
  reshape / transpose / batched MatMul.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional

from .hyena import HyenaFilter
from .registry import ExampleSpec


class MonarchLinear(nn.Module):
    """y = Monarch(x) + b: block-diagonal, stride permutation, block-diagonal.

    With k blocks: x (.., d_in) -> (k, N, d_in/k) @ left (k, d_in/k, d_out/k), then the
    stride permutation regroups the k * (d_out/k) outputs as (d_out/k) groups of k, and
    right (k, d_out/k, d_out/k) mixes across the former blocks (Dao et al., ICML 2022).
    """

    def __init__(self, in_features: int, out_features: int, blocks: int) -> None:
        super().__init__()
        if in_features % blocks or out_features % blocks:
            raise ValueError("features must be divisible by the number of blocks")
        self.blocks = blocks
        self.out_features = out_features
        in_block, out_block = in_features // blocks, out_features // blocks
        self.left = nn.Parameter(torch.randn(blocks, in_block, out_block) / math.sqrt(in_block))
        self.right = nn.Parameter(torch.randn(blocks, out_block, out_block) / math.sqrt(out_block))
        self.bias = nn.Parameter(torch.randn(out_features) * 0.02)

    def forward(self, x: Tensor) -> Tensor:
        lead_shape = x.shape[:-1]
        blocks, out_block = self.blocks, self.out_features // self.blocks
        tokens = x.reshape(-1, blocks, x.shape[-1] // blocks).transpose(0, 1)  # (k, N, in/k)
        mixed = torch.matmul(tokens, self.left)  # (k, N, out/k)
        # stride permutation: (N, k, out/k) read as (N, out/k, k), i.e. transpose the grid
        mixed = mixed.transpose(0, 1).reshape(-1, out_block, blocks).permute(2, 0, 1)
        mixed = torch.matmul(mixed, self.right)  # (k, N, out/k)
        y = mixed.permute(1, 2, 0).reshape(*lead_shape, self.out_features)
        return y + self.bias


class BidirectionalLongConv(nn.Module):
    """Non-causal long convolution: a causal filter plus an anti-causal one, via FFT(2L)."""

    def __init__(self, channels: int, max_len: int) -> None:
        super().__init__()
        self.channels = channels
        self.filters = HyenaFilter(2 * channels, max_len)
        self.skip = nn.Parameter(torch.randn(channels, 1))

    def forward(self, u: Tensor) -> Tensor:
        seq_len = u.shape[-1]
        forward_k, backward_k = self.filters(seq_len).split(self.channels, dim=0)
        # Circular kernel of length 2L: lags 0..L-1 causal, lags -(L-1)..-1 at the end.
        kernel = functional.pad(forward_k, (0, seq_len)) + functional.pad(
            backward_k.flip(-1), (seq_len, 0)
        )
        fft_size = 2 * seq_len
        u_f = torch.fft.rfft(u, n=fft_size)
        k_f = torch.fft.rfft(kernel, n=fft_size)
        y = torch.fft.irfft(u_f * k_f, n=fft_size)[..., :seq_len]
        return y + self.skip * u


class MonarchMixerSequenceMixing(nn.Module):
    """Gated bidirectional long convolution on (B, L, D)."""

    def __init__(self, d_model: int, max_len: int, short_kernel: int = 3) -> None:
        super().__init__()
        self.d_model = d_model
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.short_filter = nn.Conv1d(
            3 * d_model, 3 * d_model, short_kernel, padding=short_kernel // 2, groups=3 * d_model
        )
        self.long_conv = BidirectionalLongConv(d_model, max_len)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        z = self.short_filter(self.in_proj(x).transpose(1, 2))  # (B, 3D, L)
        x1, x2, v = z.split(self.d_model, dim=1)
        y = self.long_conv(v * x1) * x2
        return self.out_proj(y.transpose(1, 2))


class MonarchGLU(nn.Module):
    """BERT GLU MLP with Monarch linear maps: down(up_a(x) * gelu(up_b(x)))."""

    def __init__(self, d_model: int, hidden: int, blocks: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.up = MonarchLinear(d_model, 2 * hidden, blocks)
        self.down = MonarchLinear(hidden, d_model, blocks)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.up(x).split(self.hidden, dim=-1)
        return self.down(value * functional.gelu(gate))


class M2BertLayer(nn.Module):
    """Post-norm layer: LN(x + mix_seq(x)), then LN(h + mlp(h))."""

    def __init__(self, d_model: int, max_len: int, blocks: int) -> None:
        super().__init__()
        self.sequence_mixing = MonarchMixerSequenceMixing(d_model, max_len)
        self.norm1 = nn.LayerNorm(d_model)
        self.mlp = MonarchGLU(d_model, 2 * d_model, blocks)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x + self.sequence_mixing(x))
        return self.norm2(h + self.mlp(h))


class M2Bert(nn.Module):
    """A stack of M2-BERT layers on embedded tokens."""

    def __init__(self, d_model: int, max_len: int, n_layers: int, blocks: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(M2BertLayer(d_model, max_len, blocks) for _ in range(n_layers))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


EXAMPLES = [
    ExampleSpec(
        name="m2_bert",
        group="zoo",
        factory=lambda: M2Bert(d_model=64, max_len=128, n_layers=2, blocks=4),
        input_shapes=((1, 128, 64),),
        input_names=("embeddings",),
        output_names=("hidden",),
        summary="2-layer M2-BERT (Monarch GLU MLP, 4 blocks), d_model 64, L 128",
    ),
]
