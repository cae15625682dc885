"""The decoder: embedding, N x (attention + dense-or-MoE feed-forward), norm, lm_head.

The attention (and so the cache) comes from the config: Multi-head Latent Attention for the
DeepSeek-V2/V3 family, grouped-query attention with q/k norms for Qwen3-MoE. Everything
else (the MoE feed-forward, the dense MLPs, batching, chunked prefill) is shared.

Shapes: B batch, S new tokens, T keys, D hidden, V vocab.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .attention import MLA
from .cache import CacheStep, RowCache, cache_class
from .config import ModelConfig
from .gqa import GQA
from .kernels import KernelPolicy, Linear
from .layers import MLP, RMSNorm, Rotary
from .moe import MoE


class DecoderLayer(nn.Module):
    """Pre-norm block: x += attn(norm(x)); x += ffn(norm(x))."""

    def __init__(self, config: ModelConfig, layer: int, kernels: KernelPolicy):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = GQA(config, layer, kernels) if config.attention == "gqa" else MLA(config, layer, kernels)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = (MoE(config, kernels) if config.is_moe_layer(layer)
                    else MLP(config.hidden_size, config.intermediate_size, kernels))

    def forward(self, x, cos, sin, mask, cache, step, mla: str, moe: str) -> torch.Tensor:
        """x: [B, S, D] -> [B, S, D]; see MLA.forward / GQA.forward for the rest."""
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache, step, mla)
        h = self.post_attention_layernorm(x)
        return x + (self.mlp(h, moe) if isinstance(self.mlp, MoE) else self.mlp(h))


class DeepseekModel(nn.Module):
    """A causal LM over the DeepSeek-V2/V3 (MLA) or Qwen3 / Qwen3-MoE (GQA) architecture, as its config
    says. Build it with `local_model.load_model`.

    kernels: the policy every layer of this model computes under (default: a fresh one, all
    kernels on); it belongs to this model alone, so a kernel that fails here stays on elsewhere.
    """

    def __init__(self, config: ModelConfig, kernels: KernelPolicy | None = None):
        super().__init__()
        self.config = config
        kernels = KernelPolicy() if kernels is None else kernels
        self.kernels = kernels
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i, kernels) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, kernels)
        self.rotary = Rotary(config)
        self.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return self.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.embed_tokens.weight.dtype

    def new_cache(self, batch_size: int, max_len: int) -> RowCache:
        """An empty cache for `batch_size` sequences of up to `max_len` tokens each: MLA's latent
        cache or GQA's key/value cache (cache.py)."""
        return cache_class(self.config)(self.config, batch_size, max_len, device=self.device, dtype=self.dtype)

    @torch.no_grad()
    def forward(self, input_ids: torch.Tensor, cache: RowCache | None = None,
                seq_lens: Sequence[int] | None = None, *, mla: str = "auto", moe: str = "grouped",
                last_only: bool = False) -> torch.Tensor:
        """Run new tokens through the model.

        Args:
            input_ids: [B, S] token ids. Rows of different lengths are right-padded (any id).
            cache: continue the sequences held in this cache and append the new tokens to it;
                None runs the tokens as complete sequences starting at position 0.
            seq_lens: valid tokens per row (default: S for every row).
            mla: "auto" (fast: expanded for prefill, absorbed for decode), "absorbed", "expanded" or
                "naive" (the reference) attention; a GQA model takes "auto", "naive", "fused" or
                "blocked" (gqa.GQA_IMPLS; the MLA names mean "auto" there).
            moe: "grouped" (fast) or "looped" (reference) experts.
            last_only: return only the logits of each row's last valid token.
        Returns:
            logits [B, S, V] (or [B, 1, V] with last_only) in the model dtype; padded
            positions hold meaningless values.
        """
        bsz, seqlen = input_ids.shape
        lens = list(seq_lens) if seq_lens is not None else [seqlen] * bsz
        if len(lens) != bsz or min(lens) < 1 or max(lens) > seqlen:
            raise ValueError(f"seq_lens {lens} do not fit input_ids of shape {tuple(input_ids.shape)}")
        device = input_ids.device
        step: CacheStep | None = None
        if cache is not None:
            step = cache.prepare(seqlen, lens)
            starts, kv_len = step.starts, step.kv_len
        else:
            starts, kv_len = (0,) * bsz, seqlen
        # 1. positions [B, S] and the mask [B, S, T]: key t is visible to a query at position p iff t <= p.
        #    Cached keys beyond a row's length are never visible to that row's valid queries.
        positions = torch.tensor(starts, device=device)[:, None] + torch.arange(seqlen, device=device)
        mask = None  # rows in lockstep need no mask tensor: plain causal, aligned at the end
        if len(set(starts)) > 1 or min(lens) < seqlen or starts[0] + seqlen != kv_len:
            mask = torch.arange(kv_len, device=device)[None, None, :] <= positions[:, :, None]
        cos, sin = self.rotary(positions)
        # 2. the decoder stack
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, cache, step, mla, moe)
        if cache is not None:
            cache.commit(step)
        # 3. logits
        if last_only:
            last = torch.tensor(lens, device=device) - 1
            x = x[torch.arange(bsz, device=device), last][:, None]
        return self.lm_head(self.norm(x))
