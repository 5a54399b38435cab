"""FFTNet: adaptive spectral filtering with modReLU as a replacement for self-attention.

Follows Fein-Ashley, "The FFT Strikes Back: An Efficient Alternative to Self-Attention"
(arXiv 2502.18394) and its `MultiHeadSpectralAttention`: per head, an rfft over tokens
(norm='ortho'); a filter `base + MLP(mean over tokens)` that adapts to the input; modReLU on
the complex coefficients, `z * relu(|z| + b) / (|z| + eps)`; irfft; residual + LayerNorm.
Complex values are handled as real (..., 2) pairs (view_as_real / view_as_complex).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from .layers import FeedForward
from .registry import ExampleSpec


class SpectralAttention(nn.Module):
    """Multi-head adaptive spectral filter on (B, N, D); returns LN(x + filtered)."""

    def __init__(self, d_model: int, seq_len: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim, self.seq_len = heads, d_model // heads, seq_len
        self.freq_bins = seq_len // 2 + 1
        self.base_filter = nn.Parameter(1.0 + 0.1 * torch.randn(heads, self.freq_bins, 1))
        self.adaptive_mlp = nn.Sequential(
            nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, heads * self.freq_bins)
        )
        self.modrelu_bias = nn.Parameter(0.1 * torch.randn(heads, self.freq_bins, 1))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor) -> Tensor:
        batch, tokens, d_model = x.shape
        x_heads = x.reshape(batch, tokens, self.heads, self.head_dim).permute(0, 2, 1, 3)
        spectrum = torch.view_as_real(torch.fft.rfft(x_heads, dim=2, norm="ortho"))
        modulation = self.adaptive_mlp(x.mean(dim=1)).reshape(batch, self.heads, -1, 1)
        spectral_filter = self.base_filter + modulation  # (B, heads, F, 1)
        spectrum = spectrum * spectral_filter.unsqueeze(-1)
        magnitude = torch.sqrt(spectrum[..., 0] ** 2 + spectrum[..., 1] ** 2)
        gain = functional.relu(magnitude + self.modrelu_bias) / (magnitude + 1e-6)
        spectrum = spectrum * gain.unsqueeze(-1)
        filtered = torch.fft.irfft(
            torch.view_as_complex(spectrum), n=self.seq_len, dim=2, norm="ortho"
        )
        filtered = filtered.permute(0, 2, 1, 3).reshape(batch, tokens, d_model)
        return self.norm(x + filtered)


class FFTNetBlock(nn.Module):
    """Spectral attention (with its own residual and norm), then x + MLP(LN(x))."""

    def __init__(self, d_model: int, seq_len: int, heads: int) -> None:
        super().__init__()
        self.attention = SpectralAttention(d_model, seq_len, heads)
        self.norm = nn.LayerNorm(d_model)
        self.mlp = FeedForward(d_model, 4 * d_model)

    def forward(self, x: Tensor) -> Tensor:
        x = self.attention(x)
        return x + self.mlp(self.norm(x))


class FFTNetViT(nn.Module):
    """Patch embedding + position embedding, FFTNet blocks, LayerNorm, mean pool, head."""

    def __init__(
        self, image_size: int, patch: int, d_model: int, depth: int, heads: int, num_classes: int
    ) -> None:
        super().__init__()
        tokens = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, d_model, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, d_model) * 0.02)
        self.blocks = nn.Sequential(*(FFTNetBlock(d_model, tokens, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, image: Tensor) -> Tensor:
        x = self.patch_embed(image).flatten(2).transpose(1, 2) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))


EXAMPLES = [
    ExampleSpec(
        name="fftnet",
        group="zoo",
        factory=lambda: FFTNetViT(
            image_size=32, patch=4, d_model=64, depth=2, heads=4, num_classes=10
        ),
        input_shapes=((1, 3, 32, 32),),
        input_names=("image",),
        output_names=("logits",),
        summary="FFTNet ViT: 4x4 patches of a 32x32 image, 64 tokens x 64, 4 heads, 2 blocks",
    ),
]
