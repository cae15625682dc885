"""Multi-head Latent Attention (DeepSeek-V2 section 2.1), naive and weight-absorbed.

Per token the layer computes a latent c = RMSNorm(W_DKV x) of width R and one shared
rotary key k_r = RoPE(W_KR x) of width Dr; both are cached. Per head h:
    k_h = [W_UK_h c ; k_r]      v_h = W_UV_h c      (W_UK, W_UV are the two halves of kv_b_proj)
    q_h = [q_nope_h ; RoPE(q_rope_h)]

* naive    expands the whole cached latent to per-head keys and values (the reference).
* expanded the naive expansion with a fast attention kernel: torch's fused
  scaled_dot_product_attention on accelerators; on CPU (where that kernel is slow for
  these head sizes) plain matmuls over blocks of queries, skipping the key blocks the
  causal mask hides. The fastest for prefill, where attention is compute-bound and the
  (Dn + Dr)-wide heads cost 3x fewer flops than the absorbed (R + Dr)-wide ones.
* absorbed folds W_UK into the query (q_nope_h W_UK_h, width R) and W_UV into the output, so
  attention runs over the cache as it is: multi-query attention with (R + Dr)-wide keys
  (576 for the released models) whose first R values are the values. Decode reads the
  cache once per step instead of re-expanding it: the fast path for S = 1.
* auto     expanded for several new tokens, absorbed for one.

Shapes: B batch, S new tokens, T keys, H heads, R kv_lora_rank, Dn/Dr/Dv head dims, D hidden.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .cache import CacheStep, LatentCache
from .config import ModelConfig
from .kernels import KernelPolicy, Linear
from .layers import RMSNorm, apply_rope

MLA_IMPLS = ("auto", "absorbed", "naive", "expanded")
SCORE_BLOCK = 512  # keys per block of a decode step's scores on CPU


class MLA(nn.Module):
    """Multi-head Latent Attention; parameter names follow the HF checkpoints.

    kernels: the model's policy, for the projections and the CPU prefill's query blocks.
    """

    def __init__(self, config: ModelConfig, layer: int, kernels: KernelPolicy):
        super().__init__()
        self.layer = layer
        self.kernels = kernels
        self.n_heads = config.num_attention_heads
        self.rank = config.kv_lora_rank
        self.nope_dim, self.rope_dim, self.v_dim = config.qk_nope_head_dim, config.qk_rope_head_dim, config.v_head_dim
        self.interleave = config.rope_interleave
        self.scale = config.softmax_scale
        d, h = config.hidden_size, config.num_attention_heads
        if config.q_lora_rank is None:
            self.q_proj = Linear(d, h * config.qk_head_dim, kernels)
        else:
            self.q_a_proj = Linear(d, config.q_lora_rank, kernels)
            self.q_a_layernorm = RMSNorm(config.q_lora_rank)
            self.q_b_proj = Linear(config.q_lora_rank, h * config.qk_head_dim, kernels)
        self.kv_a_proj_with_mqa = Linear(d, self.rank + self.rope_dim, kernels)
        self.kv_a_layernorm = RMSNorm(self.rank)
        self.kv_b_proj = Linear(self.rank, h * (self.nope_dim + self.v_dim), kernels)
        self.o_proj = Linear(h * self.v_dim, d, kernels)
        self._uk_t: tuple[tuple, torch.Tensor] | None = None  # (what kv_b_proj.weight was, its W_UK as [H, R, Dn])

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                cache: LatentCache | None = None, step: CacheStep | None = None,
                impl: str = "auto") -> torch.Tensor:
        """Attend from the new tokens to everything cached plus themselves.

        Args:
            x: [B, S, D] normalised hidden states of the new tokens.
            cos, sin: [B, S, Dr/2] rotary tables for their positions.
            mask: [B, S, T] bool, True where query s may see key t; None for causal attention
                aligned at the end (query s sees keys t <= s + T - S), the case of every row
                starting at the same position without padding, which needs no mask tensor.
            cache, step: the latent cache and this step's write plan (both or neither).
            impl: one of MLA_IMPLS.
        Returns: [B, S, D].
        """
        bsz, seqlen, _ = x.shape
        # 1. queries: [B, S, H, Dn + Dr], rotary part roped
        if hasattr(self, "q_proj"):
            q = self.q_proj(x)
        else:
            q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        q = q.view(bsz, seqlen, self.n_heads, self.nope_dim + self.rope_dim)
        q_nope, q_rope = q.split([self.nope_dim, self.rope_dim], dim=-1)
        q_rope = apply_rope(q_rope, cos, sin, self.interleave)
        # 2. the cache row of each new token: [B, S, R + Dr] = normalised latent ++ roped shared key
        latent, k_rope = self.kv_a_proj_with_mqa(x).split([self.rank, self.rope_dim], dim=-1)
        kv = torch.cat((self.kv_a_layernorm(latent), apply_rope(k_rope, cos, sin, self.interleave)), dim=-1)
        # 3. everything to attend over: [B, T, R + Dr]
        if cache is not None:
            kv = cache.write(self.layer, step, kv)
        # 4. attention
        if impl == "auto":
            impl = "absorbed" if seqlen == 1 else "expanded"
        if impl == "expanded":
            out = self._expanded(q_nope, q_rope, kv, mask)
        elif impl == "absorbed":
            out = self._absorbed(q_nope, q_rope, kv, mask)
        elif impl == "naive":
            out = self._naive(q_nope, q_rope, kv, mask)
        else:
            raise ValueError(f"unknown MLA implementation {impl!r}; expected one of {MLA_IMPLS}")
        return self.o_proj(out.reshape(bsz, seqlen, self.n_heads * self.v_dim))

    def _softmax(self, scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """scores [B, S, H, T] any dtype -> probabilities [B, S, H, T] float32."""
        scores = scores.float() * self.scale
        seqlen, kv_len = scores.shape[1], scores.shape[-1]
        if mask is None and seqlen > 1:
            mask = end_aligned_causal_mask(seqlen, kv_len, scores.device)[None]
        if mask is not None:
            scores = scores.masked_fill(~mask[:, :, None, :], float("-inf"))
        return scores.softmax(dim=-1)

    def _expand(self, kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """kv [B, T, R + Dr] -> k_nope [B, T, H, Dn], v [B, T, H, Dv], k_rope [B, T, Dr]."""
        bsz, kv_len, _ = kv.shape
        latent, k_rope = kv.split([self.rank, self.rope_dim], dim=-1)
        expanded = self.kv_b_proj(latent).view(bsz, kv_len, self.n_heads, self.nope_dim + self.v_dim)
        k_nope, v = expanded.split([self.nope_dim, self.v_dim], dim=-1)
        return k_nope, v, k_rope

    def _expanded(self, q_nope, q_rope, kv, mask) -> torch.Tensor:
        """Naive expansion, fast kernel. q_*: [B, S, H, *]; kv: [B, T, R + Dr]. -> [B, S, H, Dv]."""
        seqlen, kv_len = q_nope.shape[1], kv.shape[1]
        k_nope, v, k_rope = self._expand(kv)
        q = torch.cat((q_nope, q_rope), dim=-1).transpose(1, 2)  # [B, H, S, Dn + Dr]
        v = v.transpose(1, 2)  # [B, H, T, Dv]
        if q.device.type != "cpu":
            k = torch.cat((k_nope, k_rope[:, :, None].expand(-1, -1, self.n_heads, -1)), dim=-1).transpose(1, 2)
            causal, attn_mask = False, None
            if mask is not None:
                attn_mask = mask[:, None]  # [B, 1, S, T]
            elif seqlen == kv_len:
                causal = True
            elif seqlen > 1:
                attn_mask = end_aligned_causal_mask(seqlen, kv_len, q.device)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=causal, scale=self.scale)
            return out.transpose(1, 2)
        # [B, H, S|T, D] laid out once for the matmuls; the scale folded into q (smaller than the scores)
        q = (q * self.scale).contiguous()
        k = _heads_first(k_nope, k_rope)  # [B, H, T, Dn + Dr]
        v = v.contiguous()
        block = self.kernels.prefill_query_block
        out = None if seqlen <= block else q.new_empty(*q.shape[:3], self.v_dim)
        for s0 in range(0, seqlen, block):
            s1 = min(s0 + block, seqlen)
            # without a mask, query s sees keys t <= s + T - S: later keys need not be scored at all
            t1 = kv_len if mask is not None else s1 + kv_len - seqlen
            scores = torch.matmul(q[:, :, s0:s1], k[:, :, :t1].transpose(-1, -2)).float()
            if mask is not None:
                scores.masked_fill_(~mask[:, None, s0:s1], float("-inf"))
            elif seqlen > 1:  # keys before t1 - n are visible to every query of the block: mask only the last n
                n = s1 - s0
                scores[..., t1 - n :].masked_fill_(~end_aligned_causal_mask(n, n, q.device), float("-inf"))
            chunk = torch.matmul(scores.softmax(dim=-1).to(v.dtype), v[:, :, :t1])
            if out is None:
                return chunk.transpose(1, 2)
            out[:, :, s0:s1] = chunk
        return out.transpose(1, 2)

    def _naive(self, q_nope, q_rope, kv, mask) -> torch.Tensor:
        """Expand the latent to per-head keys/values. q_*: [B, S, H, *]; kv: [B, T, R + Dr]. -> [B, S, H, Dv]."""
        k_nope, v, k_rope = self._expand(kv)  # [B, T, H, Dn], [B, T, H, Dv], [B, T, Dr]
        scores = torch.einsum("bshd,bthd->bsht", q_nope, k_nope) + torch.einsum("bshd,btd->bsht", q_rope, k_rope)
        probs = self._softmax(scores, mask).to(v.dtype)
        return torch.einsum("bsht,bthd->bshd", probs, v)

    def _absorbed(self, q_nope, q_rope, kv, mask) -> torch.Tensor:
        """Attend over the latent cache directly. q_*: [B, S, H, *]; kv: [B, T, R + Dr]. -> [B, S, H, Dv]."""
        bsz, seqlen, heads, _ = q_nope.shape
        # W_UK absorbed into the query, heads as the batch of one bmm: [H, R, Dn] @ [H, Dn, B*S].
        # Weights first: with few rows this runs as matrix-vector products over contiguous
        # weight rows, ~2x the speed of [H, B*S, Dn] @ [H, Dn, R] on CPU.
        q_latent = self._absorb_query(q_nope.permute(2, 3, 0, 1).reshape(heads, -1, bsz * seqlen))  # [H, R, B*S]
        q_latent = q_latent.view(heads, self.rank, bsz, seqlen).permute(2, 3, 0, 1)  # [B, S, H, R]
        q_full = torch.cat((q_latent, q_rope), dim=-1).reshape(bsz, seqlen * heads, -1)  # MQA, (R + Dr)-wide
        scores = _scores(q_full, kv).view(bsz, seqlen, heads, -1)
        probs = self._softmax(scores, mask).to(kv.dtype)
        out_latent = torch.bmm(probs.view(bsz, seqlen * heads, -1), kv[..., : self.rank])  # [B, S*H, R]
        # W_UV applied per head, weights first again: [H, Dv, R] @ [H, R, B*S]
        out_latent = out_latent.view(bsz, seqlen, heads, self.rank).permute(2, 3, 0, 1).reshape(heads, self.rank, -1)
        out = self._absorb_output(out_latent)  # [H, Dv, B*S]
        return out.view(heads, self.v_dim, bsz, seqlen).permute(2, 3, 0, 1)

    def _absorb_query(self, q: torch.Tensor) -> torch.Tensor:
        """W_UK_h^T q_h for every head: [H, Dn, N] -> [H, R, N] (local_model/quant.py overrides both products)."""
        return torch.bmm(self._up_projections()[0], q)

    def _absorb_output(self, out_latent: torch.Tensor) -> torch.Tensor:
        """W_UV_h o_h for every head: [H, R, N] -> [H, Dv, N]."""
        return torch.bmm(self._up_projections()[1], out_latent)

    def _up_projections(self) -> tuple[torch.Tensor, torch.Tensor]:
        """W_UK transposed to [H, R, Dn] (a copy, made once per weight tensor) and W_UV [H, Dv, R] (a view).

        Both halves of kv_b_proj as the absorbed attention reads them: each head's rows
        contiguous along the dimension the product reduces over.
        """
        weight = self.kv_b_proj.weight
        w = weight.view(self.n_heads, self.nope_dim + self.v_dim, self.rank)
        # the same storage as last time (a load or .to() gives a new one; weights are never written in place)
        key = (weight.data_ptr(), weight.device, weight.dtype)
        if self._uk_t is None or self._uk_t[0] != key:
            self._uk_t = (key, w[:, : self.nope_dim].transpose(1, 2).contiguous())
        return self._uk_t[1], w[:, self.nope_dim :]


def _scores(q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
    """q [B, M, W] @ kv [B, T, W]^T -> [B, M, T].

    On CPU over blocks of SCORE_BLOCK keys (a block of the cache stays in L2 while the
    product reads it): ~15 % faster than one bmm over a cache read from DRAM in isolation,
    ~3 % of a whole decode step at 4096 tokens.
    """
    kv_len = kv.shape[1]
    if q.device.type != "cpu" or kv_len <= SCORE_BLOCK:
        return torch.bmm(q, kv.transpose(1, 2))
    out = q.new_empty(q.shape[0], q.shape[1], kv_len)
    for b in range(q.shape[0]):
        for t0 in range(0, kv_len, SCORE_BLOCK):
            t1 = min(t0 + SCORE_BLOCK, kv_len)
            torch.mm(q[b], kv[b, t0:t1].t(), out=out[b, :, t0:t1])
    return out


def _heads_first(k_nope: torch.Tensor, k_rope: torch.Tensor) -> torch.Tensor:
    """k_nope [B, T, H, Dn], shared k_rope [B, T, Dr] -> keys [B, H, T, Dn + Dr] in one contiguous write."""
    bsz, kv_len, heads, nope = k_nope.shape
    k = k_nope.new_empty(bsz, heads, kv_len, nope + k_rope.shape[-1])
    k[..., :nope] = k_nope.transpose(1, 2)
    k[..., nope:] = k_rope[:, None]
    return k


def end_aligned_causal_mask(seqlen: int, kv_len: int, device: torch.device) -> torch.Tensor:
    """[S, T] bool: query s (the (T - S + s)-th token) sees keys t <= s + T - S."""
    return torch.arange(kv_len, device=device)[None, :] <= torch.arange(seqlen, device=device)[:, None] + (kv_len - seqlen)
