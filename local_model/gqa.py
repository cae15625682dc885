"""Grouped-query attention with per-head q/k RMSNorm (Qwen3 / Qwen3-MoE).

Per token: q = RoPE(RMSNorm_h(W_Q x)) for each of H query heads, k = RoPE(RMSNorm_h(W_K x))
and v = W_V x for each of Hkv key/value heads (the norms act on each head's Dh values,
RoPE is rotate-half over the whole head). Query head h reads key/value head h // G, G = H / Hkv.
Keys and values are cached as they are (cache.KVCache): 2 * Hkv * Dh values per token and layer.

* naive    the reference: keys and values repeated to H heads, one einsum for the scores.
* fused    torch's scaled_dot_product_attention with enable_gqa: the key/value heads are shared
           by their query heads inside the kernel, never repeated in memory.
* blocked  the G query heads of a key/value head stacked as the rows of one matrix product
           against that head's keys (the cache read once per key/value head), over blocks of
           queries, skipping the key blocks the causal mask hides: plain matmuls.
* auto     fused, except for decode (one new token) on CPU: blocked. Measured on this
           project's build machine (one thread, Qwen3-30B-A3B's heads halved: 16 query heads on
           2 kv heads of 128): a 4096-token prefill's attention 1.1-1.3 s a layer fused,
           1.5-2.5 s blocked (the blocked one writes whole score blocks); a decode step over
           4096 cached tokens 1.1 ms blocked, 2.6-3.3 ms fused. The MLA names "absorbed" and
           "expanded" (which the engine's captured decode step passes) mean auto here.

Shapes: B batch, S new tokens, T keys, H heads, Hkv key/value heads, G = H / Hkv, Dh head_dim, D hidden.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import end_aligned_causal_mask
from .cache import CacheStep, KVCache
from .config import ModelConfig
from .kernels import KernelPolicy, Linear
from .layers import RMSNorm, apply_rope

GQA_IMPLS = ("auto", "naive", "fused", "blocked")


class GQA(nn.Module):
    """Qwen3's attention; parameter names follow the HF checkpoints.

    kernels: the model's policy, for the projections and the CPU prefill's query blocks.
    """

    def __init__(self, config: ModelConfig, layer: int, kernels: KernelPolicy):
        super().__init__()
        self.layer = layer
        self.kernels = kernels
        self.n_heads, self.n_kv_heads, self.head_dim = (config.num_attention_heads, config.num_key_value_heads,
                                                        config.head_dim)
        self.groups = self.n_heads // self.n_kv_heads
        self.interleave = config.rope_interleave
        self.scale = config.softmax_scale
        d, h, hkv, dh = config.hidden_size, self.n_heads, self.n_kv_heads, self.head_dim
        self.q_proj = Linear(d, h * dh, kernels)
        self.k_proj = Linear(d, hkv * dh, kernels)
        self.v_proj = Linear(d, hkv * dh, kernels)
        self.o_proj = Linear(h * dh, d, kernels)
        self.q_norm = RMSNorm(dh, config.rms_norm_eps)
        self.k_norm = RMSNorm(dh, config.rms_norm_eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                cache: KVCache | None = None, step: CacheStep | None = None, impl: str = "auto") -> torch.Tensor:
        """Attend from the new tokens to everything cached plus themselves.

        Args:
            x: [B, S, D] normalised hidden states of the new tokens.
            cos, sin: [B, S, Dh/2] rotary tables for their positions.
            mask: [B, S, T] bool, True where query s may see key t; None for causal attention
                aligned at the end (query s sees keys t <= s + T - S).
            cache, step: the key/value cache and this step's write plan (both or neither).
            impl: one of GQA_IMPLS ("absorbed" and "expanded" mean "auto").
        Returns: [B, S, D].
        """
        bsz, seqlen, _ = x.shape
        # 1. per-head projections, norms and RoPE: q [B, S, H, Dh], k and v [B, S, Hkv, Dh]
        q = apply_rope(self.q_norm(self.q_proj(x).view(bsz, seqlen, self.n_heads, self.head_dim)), cos, sin,
                       self.interleave)
        k = apply_rope(self.k_norm(self.k_proj(x).view(bsz, seqlen, self.n_kv_heads, self.head_dim)), cos, sin,
                       self.interleave)
        v = self.v_proj(x).view(bsz, seqlen, self.n_kv_heads, self.head_dim)
        # 2. everything to attend over: [B, Hkv, 2, T, Dh] (keys, values)
        kv = torch.stack((k, v), dim=3)  # [B, S, Hkv, 2, Dh], one cache row per token
        kv = cache.write(self.layer, step, kv) if cache is not None else kv.permute(0, 2, 3, 1, 4)
        keys, values = kv[:, :, 0], kv[:, :, 1]  # [B, Hkv, T, Dh] each
        # 3. attention: [B, S, H, Dh]
        q = q.view(bsz, seqlen, self.n_kv_heads, self.groups, self.head_dim)
        if impl in ("auto", "absorbed", "expanded"):
            impl = "blocked" if q.device.type == "cpu" and seqlen == 1 else "fused"
        if impl == "naive":
            out = self._naive(q, keys, values, mask)
        elif impl == "fused":
            out = self._fused(q, keys, values, mask)
        elif impl == "blocked":
            out = self._blocked(q, keys, values, mask)
        else:
            raise ValueError(f"unknown GQA implementation {impl!r}; expected one of {GQA_IMPLS}")
        return self.o_proj(out.reshape(bsz, seqlen, self.n_heads * self.head_dim))

    def _naive(self, q, keys, values, mask) -> torch.Tensor:
        """Keys/values repeated per query head. q [B, S, Hkv, G, Dh]; keys, values [B, Hkv, T, Dh] -> [B, S, H, Dh]."""
        bsz, seqlen = q.shape[:2]
        q = q.reshape(bsz, seqlen, self.n_heads, self.head_dim)
        k = keys.repeat_interleave(self.groups, dim=1)  # [B, H, T, Dh]: query head h reads kv head h // G
        v = values.repeat_interleave(self.groups, dim=1)
        scores = torch.einsum("bshd,bhtd->bsht", q, k).float() * self.scale
        if mask is None and seqlen > 1:
            mask = end_aligned_causal_mask(seqlen, k.shape[2], q.device)[None]
        if mask is not None:
            scores = scores.masked_fill(~mask[:, :, None, :], float("-inf"))
        return torch.einsum("bsht,bhtd->bshd", scores.softmax(dim=-1).to(v.dtype), v)

    def _fused(self, q, keys, values, mask) -> torch.Tensor:
        """torch's fused kernel, kv heads shared by their G query heads (no repeat). -> [B, S, H, Dh]."""
        bsz, seqlen = q.shape[:2]
        q = q.reshape(bsz, seqlen, self.n_heads, self.head_dim).transpose(1, 2)  # [B, H, S, Dh]
        kv_len = keys.shape[2]
        causal, attn_mask = False, None
        if mask is not None:
            attn_mask = mask[:, None]  # [B, 1, S, T]
        elif seqlen == kv_len:
            causal = True
        elif seqlen > 1:
            attn_mask = end_aligned_causal_mask(seqlen, kv_len, q.device)
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=attn_mask, is_causal=causal, scale=self.scale,
                                             enable_gqa=True)
        return out.transpose(1, 2)

    def _blocked(self, q, keys, values, mask) -> torch.Tensor:
        """CPU: per kv head, its G query heads times a block of queries as the rows of one bmm.

        q [B, S, Hkv, G, Dh]; keys, values [B, Hkv, T, Dh] (rows and heads collapse into one batch
        dimension without a copy when they come from the cache). Returns [B, S, H, Dh].
        """
        bsz, seqlen, hkv, groups, dh = q.shape
        kv_len = keys.shape[2]
        k = keys.reshape(bsz * hkv, kv_len, dh)
        v = values.reshape(bsz * hkv, kv_len, dh)
        q = (q * self.scale).permute(0, 2, 3, 1, 4)  # [B, Hkv, G, S, Dh], the scale folded into q
        block = self.kernels.prefill_query_block
        out = q.new_empty(bsz, hkv, groups, seqlen, dh)
        for s0 in range(0, seqlen, block):
            s1 = min(s0 + block, seqlen)
            n = s1 - s0
            # without a mask, query s sees keys t <= s + T - S: later keys need not be scored at all
            t1 = kv_len if mask is not None else s1 + kv_len - seqlen
            rows = q[:, :, :, s0:s1].reshape(bsz * hkv, groups * n, dh)
            scores = torch.bmm(rows, k[:, :t1].transpose(1, 2)).float().view(bsz, hkv, groups, n, t1)
            if mask is not None:
                scores.masked_fill_(~mask[:, None, None, s0:s1], float("-inf"))
            elif seqlen > 1:  # keys before t1 - n are visible to every query of the block: mask only the last n
                scores[..., t1 - n :].masked_fill_(~end_aligned_causal_mask(n, n, q.device), float("-inf"))
            probs = scores.softmax(dim=-1).to(v.dtype).view(bsz * hkv, groups * n, t1)
            out[:, :, :, s0:s1] = torch.bmm(probs, v[:, :t1]).view(bsz, hkv, groups, n, dh)
        return out.permute(0, 3, 1, 2, 4)  # [B, S, Hkv, G, Dh]
