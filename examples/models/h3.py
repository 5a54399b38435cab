"""H3: a shift SSM and a diagonal SSM around multiplicative interactions.

Follows Fu et al., "Hungry Hungry Hippos: Towards Language Modeling with State Space Models"
(ICLR 2023, arXiv 2212.14052): `out_proj(q * SSM_diag(SSM_shift(k) * v))` with head
dimension 1. Both SSMs run as long convolutions via FFT of size 2L (H3's FlashConv), with
their kernels computed in the graph from the SSM parameters:

- shift SSM (A = shift matrix, B = e_1): kernel K_t = C_t for t < N, 0 after (a zero pad);
- diagonal SSM (S4D-Lin, ZOH discretisation, Gu et al. 2022, arXiv 2206.11893):
  K_t = 2 Re(sum_n C'_n exp(dt A_n t)), C'_n = C_n (exp(dt A_n) - 1) / A_n, written in real
  arithmetic (Exp, Cos, Sin) because complex parameters do not export.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .layers import FeedForward, causal_fft_conv
from .registry import ExampleSpec


class ShiftSSMKernel(nn.Module):
    """Shift SSM: its convolution kernel is the learned C, zero-padded to length L."""

    def __init__(self, channels: int, state_size: int) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.randn(channels, state_size) / math.sqrt(state_size))

    def forward(self, seq_len: int) -> Tensor:
        return nn.functional.pad(self.c, (0, seq_len - self.c.shape[-1]))


class DiagonalSSMKernel(nn.Module):
    """S4D-Lin kernel, (channels, L), from A = -exp(log_a_real) + i pi n, dt, and complex C."""

    def __init__(
        self, channels: int, state_size: int, dt_min: float = 1e-3, dt_max: float = 1e-1
    ) -> None:
        super().__init__()
        half = state_size // 2
        log_dt = torch.rand(channels, 1) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.log_a_real = nn.Parameter(torch.log(0.5 * torch.ones(channels, half)))
        self.a_imag = nn.Parameter(math.pi * torch.arange(half).float().repeat(channels, 1))
        self.c = nn.Parameter(torch.randn(channels, half, 2) * 0.5)  # (real, imaginary)

    def forward(self, seq_len: int) -> Tensor:
        dt = torch.exp(self.log_dt)  # (H, 1)
        a_re, a_im = -torch.exp(self.log_a_real), self.a_imag  # (H, N)
        dta_re, dta_im = dt * a_re, dt * a_im
        # ZOH: C' = C * (exp(dt A) - 1) / A
        e_re = torch.exp(dta_re) * torch.cos(dta_im) - 1.0
        e_im = torch.exp(dta_re) * torch.sin(dta_im)
        norm = a_re * a_re + a_im * a_im
        zoh_re = (e_re * a_re + e_im * a_im) / norm
        zoh_im = (e_im * a_re - e_re * a_im) / norm
        c_re, c_im = self.c[..., 0], self.c[..., 1]
        cb_re = c_re * zoh_re - c_im * zoh_im
        cb_im = c_re * zoh_im + c_im * zoh_re
        # Vandermonde: exp(dt A t) for t = 0..L-1, shape (H, N, L)
        t = torch.arange(seq_len, dtype=torch.float32)
        decay = torch.exp(dta_re.unsqueeze(-1) * t)
        angle = dta_im.unsqueeze(-1) * t
        real_part = cb_re.unsqueeze(-1) * torch.cos(angle) - cb_im.unsqueeze(-1) * torch.sin(angle)
        return 2.0 * (decay * real_part).sum(dim=1)


class H3Layer(nn.Module):
    """H3 mixer on (B, L, D): q, k, v projections, shift SSM on k, diagonal SSM on k*v."""

    def __init__(self, d_model: int, state_size: int = 16) -> None:
        super().__init__()
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.shift_kernel = ShiftSSMKernel(d_model, state_size)
        self.diagonal_kernel = DiagonalSSMKernel(d_model, 2 * state_size)
        self.shift_skip = nn.Parameter(torch.randn(d_model, 1))
        self.diagonal_skip = nn.Parameter(torch.randn(d_model, 1))

    def forward(self, x: Tensor) -> Tensor:
        seq_len = x.shape[1]
        q = self.q_proj(x).transpose(1, 2)  # (B, D, L)
        k = self.k_proj(x).transpose(1, 2)
        v = self.v_proj(x).transpose(1, 2)
        k = causal_fft_conv(k, self.shift_kernel(seq_len)) + self.shift_skip * k
        kv = k * v
        y = causal_fft_conv(kv, self.diagonal_kernel(seq_len)) + self.diagonal_skip * kv
        return self.out_proj((q * y).transpose(1, 2))


class H3Model(nn.Module):
    """A pre-norm stack of H3 mixers and MLPs on embedded tokens, with a final LayerNorm."""

    def __init__(self, d_model: int, n_layers: int) -> None:
        super().__init__()
        self.mixer_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.mixers = nn.ModuleList(H3Layer(d_model) for _ in range(n_layers))
        self.mlp_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.mlps = nn.ModuleList(FeedForward(d_model, 4 * d_model) for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor) -> Tensor:
        for mixer_norm, mixer, mlp_norm, mlp in zip(
            self.mixer_norms, self.mixers, self.mlp_norms, self.mlps, strict=True
        ):
            x = x + mixer(mixer_norm(x))
            x = x + mlp(mlp_norm(x))
        return self.final_norm(x)


EXAMPLES = [
    ExampleSpec(
        name="h3",
        group="zoo",
        factory=lambda: H3Model(d_model=64, n_layers=2),
        input_shapes=((1, 256, 64),),
        input_names=("embeddings",),
        output_names=("hidden",),
        summary="2-layer H3 (shift + diagonal SSM as FFT long convs), d_model 64, L 256",
    ),
]
