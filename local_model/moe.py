"""Mixture-of-Experts feed-forward: the router, the routed experts, the shared experts.

Routers, computed in float32 as the references do:
* greedy (also spelled "gready"): the top-K scores.
* group_limited_greedy (DeepSeek-V2): experts split into n_group groups, a group scored by its
  best expert, tokens restricted to the top topk_group groups, then top-K.
* noaux_tc (DeepSeek-V3, Moonlight, Kimi-K2): like group-limited, but selection uses
  score + e_score_correction_bias and a group is scored by the sum of its two best experts;
  the bias only chooses, the weights are the unbiased scores.
Then optional renormalisation (norm_topk_prob) and the routed_scaling_factor.

Shapes: T tokens, D hidden, E routed experts, K experts per token, I expert width, G groups.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .kernels import KernelPolicy, linear, routed_here
from .layers import MLP

MOE_IMPLS = ("grouped", "looped")


class Router(nn.Module):
    """Chooses K experts per token and their weights."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.n_experts = config.n_routed_experts
        self.method = config.topk_method
        self.scoring = config.scoring_func
        self.n_group, self.topk_group = config.n_group, config.topk_group
        self.normalize = config.norm_topk_prob
        self.scaling = config.routed_scaling_factor
        # float32 whatever the model dtype, like transformers' _keep_in_fp32_modules_strict
        self.weight = nn.Parameter(torch.empty(self.n_experts, config.hidden_size, dtype=torch.float32),
                                   requires_grad=False)
        if self.method == "noaux_tc":
            self.e_score_correction_bias = nn.Parameter(torch.zeros(self.n_experts, dtype=torch.float32),
                                                        requires_grad=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [T, D] -> (weights [T, K] float32, expert indices [T, K] int64)."""
        logits = F.linear(x.float(), self.weight.float())
        scores = logits.softmax(dim=-1) if self.scoring == "softmax" else logits.sigmoid()
        if self.method == "greedy":
            weights, indices = scores.topk(self.top_k, dim=-1, sorted=False)
        elif self.method == "group_limited_greedy":
            group_scores = scores.view(-1, self.n_group, self.n_experts // self.n_group).amax(dim=-1)
            masked = scores.masked_fill(~self._expert_mask(group_scores), 0.0)
            weights, indices = masked.topk(self.top_k, dim=-1, sorted=False)
        else:  # noaux_tc
            choice = scores + self.e_score_correction_bias.float()
            group_scores = choice.view(-1, self.n_group, self.n_experts // self.n_group).topk(2, dim=-1)[0].sum(-1) \
                if self.n_group > 1 else choice.new_zeros(choice.shape[0], 1)
            choice = choice.masked_fill(~self._expert_mask(group_scores), float("-inf"))
            indices = choice.topk(self.top_k, dim=-1, sorted=False)[1]
            weights = scores.gather(1, indices)
        if self.normalize:
            weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
        return weights * self.scaling, indices

    def _expert_mask(self, group_scores: torch.Tensor) -> torch.Tensor:
        """group_scores [T, G] -> bool [T, E], True for experts in the token's top topk_group groups."""
        group_idx = group_scores.topk(self.topk_group, dim=-1, sorted=False)[1]
        group_mask = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, group_idx, True)
        return group_mask.repeat_interleave(self.n_experts // group_scores.shape[1], dim=1)


class Experts(nn.Module):
    """The routed experts' weights, stacked: gate_up_proj [E, 2I, D] (gate rows first), down_proj [E, D, I].

    These are transformers 5's in-memory names and layout; per-expert checkpoints are
    stacked into them on load. kernels: the model's policy (CPU products, grouped GEMM).
    """

    def __init__(self, config: ModelConfig, kernels: KernelPolicy):
        super().__init__()
        self.kernels = kernels
        e, i, d = config.n_routed_experts, config.moe_intermediate_size, config.hidden_size
        self.gate_up_proj = nn.Parameter(torch.empty(e, 2 * i, d), requires_grad=False)
        self.down_proj = nn.Parameter(torch.empty(e, d, i), requires_grad=False)

    @property
    def n_experts(self) -> int:
        return self.gate_up_proj.shape[0]

    def loops(self, x: torch.Tensor) -> bool:
        """Whether `grouped` runs the chosen experts one by one through `expert` (else torch's grouped GEMM).
        Quantized experts (local_model/quant.py) always do."""
        return routed_here(x, self.gate_up_proj[0])

    def expert(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Run expert e: x [N, D] -> [N, D]."""
        gate, up = linear(x, self.gate_up_proj[e], self.kernels, rows_vary=True).chunk(2, dim=-1)
        return linear(F.silu(gate) * up, self.down_proj[e], self.kernels, rows_vary=True)

    def grouped(self, x: torch.Tensor, weights: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Tokens grouped by expert; only the chosen experts' weights are read.

        x: [T, D]; weights, indices: [T, K]. Returns [T, D] in float32.
        torch's grouped GEMM keeps the whole step on the device (no host read of the
        per-expert counts: capturable in a CUDA graph). Where kernels.linear has a faster
        product of its own (float32 CPU, experts too large for the caches), and where the
        grouped GEMM is unavailable, one loop over the chosen experts instead.
        """
        n_tokens, k = indices.shape
        own_kernels = self.loops(x)
        flat = indices.flatten()  # [T*K], token-major
        order = flat.argsort(stable=True)
        x_sorted = x[order // k]  # [T*K, D], grouped by expert
        counts = torch.bincount(flat, minlength=self.n_experts)  # [E]
        y = None if own_kernels else _grouped_experts(x_sorted, counts, self.gate_up_proj, self.down_proj,
                                                      self.kernels.grouped_mm_refused)
        if y is None:
            outs, start = [], 0
            for e, n in enumerate(counts.tolist()):  # a host read: which experts run, with how many tokens
                if n:
                    outs.append(self.expert(e, x_sorted[start : start + n]))
                    start += n
            y = torch.cat(outs)
        y = y.float() * weights.flatten()[order, None]  # [T*K, D]
        # back to token-major order, then sum each token's K contributions (a scatter without atomics)
        return torch.empty_like(y).index_copy_(0, order, y).view(n_tokens, k, -1).sum(dim=1)

    def looped(self, x: torch.Tensor, weights: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """The plain reference: every token through each of its K experts, one at a time."""
        out = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
        for t in range(x.shape[0]):
            for k in range(indices.shape[1]):
                e = int(indices[t, k])
                out[t] += self.expert(e, x[t : t + 1])[0].float() * weights[t, k]
        return out


def _grouped_experts(x_sorted: torch.Tensor, counts: torch.Tensor, gate_up: torch.Tensor,
                     down: torch.Tensor, refused: set[tuple[str, torch.dtype]]) -> torch.Tensor | None:
    """SwiGLU of every expert over its run of rows via torch._grouped_mm, or None where unavailable.

    x_sorted: [N, D] rows grouped by expert; counts: [E] rows per expert; gate_up: [E, 2I, D];
    down: [E, D, I]. Returns [N, D]. Empty groups read no weights. refused: the (device type,
    dtype) pairs the kernel refused before (the model's KernelPolicy); a refusal now is added.
    """
    key = (x_sorted.device.type, x_sorted.dtype)
    if not hasattr(torch, "_grouped_mm") or key in refused:
        return None
    try:
        offsets = counts.cumsum(0).to(torch.int32)  # end row of each expert's group
        gate, up = torch._grouped_mm(x_sorted, gate_up.transpose(1, 2), offs=offsets).chunk(2, dim=-1)
        return torch._grouped_mm((F.silu(gate) * up).contiguous(), down.transpose(1, 2), offs=offsets)
    except (RuntimeError, NotImplementedError):  # e.g. a GPU or dtype the kernel does not support
        refused.add(key)
        return None


class MoE(nn.Module):
    """Routed experts plus (optionally) shared experts that every token goes through."""

    def __init__(self, config: ModelConfig, kernels: KernelPolicy):
        super().__init__()
        self.gate = Router(config)
        self.experts = Experts(config, kernels)
        if config.n_shared_experts:
            self.shared_experts = MLP(config.hidden_size, config.moe_intermediate_size * config.n_shared_experts,
                                      kernels)

    def forward(self, x: torch.Tensor, impl: str = "grouped") -> torch.Tensor:
        """x: [B, S, D] -> [B, S, D]."""
        flat = x.reshape(-1, x.shape[-1])
        weights, indices = self.gate(flat)
        if impl == "grouped":
            routed = self.experts.grouped(flat, weights, indices)
        elif impl == "looped":
            routed = self.experts.looped(flat, weights, indices)
        else:
            raise ValueError(f"unknown MoE implementation {impl!r}; expected one of {MOE_IMPLS}")
        out = routed.to(x.dtype).view(x.shape)
        if hasattr(self, "shared_experts"):
            out = out + self.shared_experts(x)
        return out
