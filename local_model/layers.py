"""Building blocks: RMSNorm, the SwiGLU MLP, and rotary embeddings with YaRN.

Shapes: B batch, S new tokens, D hidden, Dr the rotated width (config.rope_dim: MLA's
qk_rope_head_dim, GQA's head_dim).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .kernels import KernelPolicy, Linear


class RMSNorm(nn.Module):
    """x / rms(x) * weight, the reduction in float32 whatever the model dtype."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(dim), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., dim] -> [..., dim], same dtype as x."""
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


class MLP(nn.Module):
    """SwiGLU feed-forward: down(silu(gate(x)) * up(x)). Used dense and as the shared experts."""

    def __init__(self, dim: int, inter: int, kernels: KernelPolicy):
        super().__init__()
        self.gate_proj = Linear(dim, inter, kernels)
        self.up_proj = Linear(dim, inter, kernels)
        self.down_proj = Linear(inter, dim, kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., D] -> [..., D]."""
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def rope_inv_freq(config: ModelConfig) -> torch.Tensor:
    """Inverse frequencies of the Dr/2 rotary pairs, YaRN-interpolated when configured.

    Returns: [Dr/2] float64. Matches transformers' `_compute_yarn_parameters` (and DeepSeek's
    reference code): pairs rotating fast enough are kept (extrapolated), slow ones are divided
    by the factor (interpolated), with a linear ramp in between.
    """
    dim, base = config.rope_dim, config.rope_theta
    pos_freqs = base ** (torch.arange(0, dim, 2, dtype=torch.float64, device="cpu") / dim)
    extrapolation = 1.0 / pos_freqs
    if config.rope_type != "yarn":
        return extrapolation
    interpolation = 1.0 / (config.rope_factor * pos_freqs)

    def correction_dim(rotations: float) -> float:
        orig = config.original_max_position_embeddings
        return dim * math.log(orig / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low, high = correction_dim(config.beta_fast), correction_dim(config.beta_slow)
    if config.rope_truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # avoid a zero-width ramp
    ramp = ((torch.arange(dim // 2, dtype=torch.float64, device="cpu") - low) / (high - low)).clamp(0, 1)
    extrapolation_weight = 1 - ramp
    return interpolation * (1 - extrapolation_weight) + extrapolation * extrapolation_weight


class Rotary(nn.Module):
    """cos/sin tables for given positions, and their application to the rotary part of q/k."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.interleave = config.rope_interleave
        self.scale = config.rope_cos_sin_scale
        self.register_buffer("inv_freq", rope_inv_freq(config), persistent=False)

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """positions: [B, S] int -> (cos, sin), each [B, S, Dr/2] float32, already YaRN-scaled.

        Angles are formed in float64 so that large positions keep their precision.
        """
        angles = positions.to(torch.float64)[..., None] * self.inv_freq.to(positions.device)
        return (angles.cos() * self.scale).float(), (angles.sin() * self.scale).float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleave: bool = True) -> torch.Tensor:
    """Rotate the rotary part of queries or keys.

    x: [B, S, ..., Dr]; cos/sin: [B, S, Dr/2]. Returns x's shape and dtype, same layout.
    With `interleave` (DeepSeek's checkpoint layout) pair i is (x[2i], x[2i+1]); without it
    pair i is (x[i], x[i + Dr/2]) as in NeoX/Llama "rotate half". Applying rotate-half to
    the interleaved layout is the classic bug this function exists to avoid.
    """
    dtype = x.dtype
    extra = x.dim() - cos.dim()
    cos = cos.view(*cos.shape[:2], *([1] * extra), cos.shape[-1])
    sin = sin.view(*sin.shape[:2], *([1] * extra), sin.shape[-1])
    h = x.to(torch.promote_types(dtype, torch.float32))
    if interleave:
        h = h.unflatten(-1, (-1, 2))
        a, b = h[..., 0], h[..., 1]
        out = torch.stack((a * cos - b * sin, b * cos + a * sin), dim=-1).flatten(-2)
    else:
        a, b = h.chunk(2, dim=-1)
        out = torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)
    return out.to(dtype)
