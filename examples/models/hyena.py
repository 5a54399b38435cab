"""Hyena: long convolutions with implicitly parametrized filters.

Follows Poli et al., "Hyena Hierarchy: Towards Larger Convolutional Language Models"
(ICML 2023, arXiv 2302.10866) and the `HyenaOperator`/`HyenaFilter` of HazyResearch/safari:
an input projection, a short depthwise causal convolution, and an order-2 recurrence of
(gate, long convolution) whose filter is computed by a small MLP with sine activations over
sinusoidal positional features, times an exponential decay window. The long convolution is
an FFT convolution of size 2L with a `D * u` skip term.

The filter is a function of the parameters only; the exporter keeps it in the graph
(Sin/Cos/Exp/MatMul), so a compiler sees the whole implicit-filter computation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.export import Dim

from .layers import FeedForward, causal_fft_conv
from .registry import ExampleSpec


class SineActivation(nn.Module):
    """`sin(freq * x)` with a learned per-feature frequency (safari's `Sin`)."""

    def __init__(self, dim: int, freq: float = 1.0) -> None:
        super().__init__()
        self.freq = nn.Parameter(freq * torch.ones(1, dim))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.freq * x)


class PositionalFeatures(nn.Module):
    """Features `[t, cos(f w), -sin(f w)]` of positions 0..L-1 (the real/imag parts of exp(-i f w)).

    Positions and band frequencies are buffers; the Cos/Sin are evaluated in `forward`.
    """

    def __init__(self, emb_dim: int, max_len: int) -> None:
        super().__init__()
        if emb_dim < 3 or emb_dim % 2 == 0:
            raise ValueError("emb_dim must be odd and >= 3")
        bands = (emb_dim - 1) // 2
        self.register_buffer("t", torch.linspace(0.0, 1.0, max_len)[None, :, None])
        positions = torch.arange(max_len, dtype=torch.float32)[None, :, None]
        self.register_buffer("angle", 2.0 * math.pi * positions / max_len)
        self.register_buffer("bands", torch.linspace(1e-4, bands - 1, bands)[None, None])

    def forward(self, seq_len: int) -> tuple[Tensor, Tensor]:
        """Return (features (1, L, emb_dim), normalized positions t (1, L, 1))."""
        t = self.t[:, :seq_len]
        phase = self.bands * self.angle[:, :seq_len]
        features = torch.cat([t, torch.cos(phase), -torch.sin(phase)], dim=-1)
        return features, t


class ExponentialModulation(nn.Module):
    """Multiply the filter by `exp(-t |delta_c|)`: per-channel decay rates, fast to slow."""

    def __init__(
        self,
        channels: int,
        fast_decay_pct: float = 0.3,
        slow_decay_pct: float = 1.5,
        target: float = 1e-2,
    ) -> None:
        super().__init__()
        max_decay = math.log(target) / fast_decay_pct
        min_decay = math.log(target) / slow_decay_pct
        self.deltas = nn.Parameter(torch.linspace(min_decay, max_decay, channels)[None, None])

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        return h * torch.exp(-t * self.deltas.abs())


class HyenaFilter(nn.Module):
    """Implicit long filter: an MLP with sine activations over positional features."""

    def __init__(self, channels: int, max_len: int, emb_dim: int = 33, order: int = 32) -> None:
        super().__init__()
        self.positions = PositionalFeatures(emb_dim, max_len)
        self.mlp = nn.Sequential(
            nn.Linear(emb_dim, order),
            SineActivation(order),
            nn.Linear(order, order),
            SineActivation(order),
            nn.Linear(order, channels, bias=False),
        )
        self.modulation = ExponentialModulation(channels)

    def forward(self, seq_len: int) -> Tensor:
        """Return the filter, shape (channels, L)."""
        features, t = self.positions(seq_len)
        h = self.modulation(t, self.mlp(features))  # (1, L, channels)
        return h[0].transpose(0, 1)


class HyenaOperator(nn.Module):
    """Order-2 Hyena operator on (B, L, D) inputs."""

    def __init__(self, d_model: int, max_len: int, short_kernel: int = 3) -> None:
        super().__init__()
        self.d_model = d_model
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.short_filter = nn.Conv1d(
            3 * d_model,
            3 * d_model,
            short_kernel,
            padding=short_kernel - 1,
            groups=3 * d_model,
        )
        self.long_filter = HyenaFilter(d_model, max_len)
        self.skip = nn.Parameter(torch.randn(d_model, 1))  # the D in `y + D * u`

    def forward(self, u: Tensor) -> Tensor:
        seq_len = u.shape[1]
        z = self.in_proj(u).transpose(1, 2)  # (B, 3D, L)
        z = self.short_filter(z)[..., :seq_len]  # causal: drop the right overhang
        x0, x1, v = z.split(self.d_model, dim=1)
        v = v * x1
        kernel = self.long_filter(seq_len)  # (D, L)
        v = causal_fft_conv(v, kernel) + self.skip * v
        y = (v * x0).transpose(1, 2)
        return self.out_proj(y)


class HyenaLM(nn.Module):
    """A pre-norm stack of Hyena mixers and MLPs with an LM head, on embedded tokens."""

    def __init__(self, d_model: int, max_len: int, n_layers: int, vocab_size: int) -> None:
        super().__init__()
        self.mixer_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.mixers = nn.ModuleList(HyenaOperator(d_model, max_len) for _ in range(n_layers))
        self.mlp_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.mlps = nn.ModuleList(FeedForward(d_model, 4 * d_model) for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        for mixer_norm, mixer, mlp_norm, mlp in zip(
            self.mixer_norms, self.mixers, self.mlp_norms, self.mlps, strict=True
        ):
            x = x + mixer(mixer_norm(x))
            x = x + mlp(mlp_norm(x))
        return self.lm_head(self.final_norm(x))


D_MODEL = 64
SEQ_LEN = 256

EXAMPLES = [
    ExampleSpec(
        name="hyena_block",
        group="onnx",
        factory=lambda: HyenaOperator(D_MODEL, SEQ_LEN),
        input_shapes=((1, SEQ_LEN, D_MODEL),),
        input_names=("u",),
        output_names=("y",),
        summary="Hyena operator (order 2), d_model 64, L 256",
    ),
    ExampleSpec(
        name="hyena_block_dynamic",
        group="dynamic",
        factory=lambda: HyenaOperator(D_MODEL, SEQ_LEN),
        input_shapes=((2, 128, D_MODEL),),
        input_names=("u",),
        output_names=("y",),
        summary="hyena_block with symbolic batch and length (length <= 256)",
        dynamic_shapes={
            "u": {0: Dim("batch", min=1, max=64), 1: Dim("length", min=2, max=SEQ_LEN)}
        },
        extra_input_shapes=(((1, SEQ_LEN, D_MODEL),), ((3, 100, D_MODEL),), ((1, 17, D_MODEL),)),
    ),
    ExampleSpec(
        name="hyena",
        group="zoo",
        factory=lambda: HyenaLM(D_MODEL, SEQ_LEN, n_layers=2, vocab_size=128),
        input_shapes=((1, SEQ_LEN, D_MODEL),),
        input_names=("embeddings",),
        output_names=("logits",),
        summary="2-layer Hyena LM on embedded tokens, d_model 64, L 256, vocab 128",
    ),
]
