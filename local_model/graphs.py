"""Decode without per-token Python overhead on CUDA: each step replays a captured CUDA graph.

A graph fixes every shape and may not read the device from the host, so the captured step
(`static_decode`) differs from `DeepseekModel.forward` in three ways: positions, mask and
cache slots come from a device tensor of row lengths; attention runs over a fixed number
of cache positions (a bucket: the next power of two of the longest row, from 256), masked
per row; the batch is padded to a bucket (1, 2, 4, 8, ...). Experts run through torch's
grouped GEMM, which needs no host read either. One graph per (batch bucket, length
bucket) is captured the first time it is needed, into one shared memory pool.

If anything about capture fails (an older GPU, a kernel that syncs), the decoder keeps the
reason in `fallback` and decodes eagerly from then on; reporting it is the caller's job (the
engine warns once). `static_decode` runs on any device: the tests hold it equal to the eager
decode step on CPU.

Shapes: B rows, L layers, T cache capacity, V vocab; kv is the cache's tensor [L, B, ...]
(MLA's latent rows or GQA's key/value heads, see cache.py).
"""

from __future__ import annotations

import torch

from .cache import RowCache, cache_class

MIN_KV_BUCKET = 256


class StaticCache:
    """Stands in for the model's cache inside a captured step: writes at device-held slots.

    layout: the cache class (LatentCache or KVCache) whose `store` / `visible` lay the tokens out.
    """

    def __init__(self, kv: torch.Tensor, lengths: torch.Tensor, kv_len: int, layout: type[RowCache]):
        self.kv, self.lengths, self.kv_len = kv, lengths, kv_len  # [L, B, ...], [B] int64, keys to read
        self.layout = layout
        self.rows = torch.arange(kv.shape[1], device=kv.device)

    def write(self, layer: int, step, new: torch.Tensor) -> torch.Tensor:
        """new [B, 1, *token_shape] goes to slot lengths[b] of row b; returns the first kv_len positions."""
        cache = self.kv[layer]
        self.layout.store(cache, self.rows, self.lengths, new[:, 0].to(cache.dtype))
        return self.layout.visible(cache, self.kv_len)


@torch.no_grad()
def static_decode(model, ids: torch.Tensor, lengths: torch.Tensor, kv: torch.Tensor, kv_len: int) -> torch.Tensor:
    """One decode step with fixed shapes and no host reads.

    ids: [B, 1]; lengths: [B] int64 on the device, tokens cached per row before this step;
    kv: [L, B, ...] (rows of the model's cache, written in place); kv_len: keys to
    attend over (> every length). Returns logits [B, 1, V]. The caller advances the host-side lengths.
    """
    positions = lengths[:, None]  # [B, 1]
    mask = torch.arange(kv_len, device=ids.device)[None, None, :] <= positions[:, :, None]  # [B, 1, kv_len]
    cos, sin = model.rotary(positions)
    cache = StaticCache(kv, lengths, kv_len, cache_class(model.config))
    x = model.embed_tokens(ids)
    for layer in model.layers:
        x = layer(x, cos, sin, mask, cache, None, "absorbed", "grouped")
    return model.lm_head(model.norm(x))


class _Graph:
    def __init__(self, graph, ids, lengths, logits):
        self.graph, self.ids, self.lengths, self.logits = graph, ids, lengths, logits


class GraphedDecoder:
    """Callable like the model for decode steps: decoder(ids [n, 1], cache rows [0, n)) -> logits [n, 1, V].

    fallback: None while decode steps replay graphs; once they cannot, why (and every call
    from then on runs the model eagerly).
    """

    def __init__(self, model, cache: RowCache):
        self.model, self.cache = model, cache
        self.graphs: dict[tuple[int, int], _Graph] = {}
        self.pool = None
        self.fallback: str | None = None if model.device.type == "cuda" else f"{model.device} is not a CUDA device"
        # a model whose step cannot be captured says why (local_model/quant.py: quantized experts)
        self.fallback = self.fallback or getattr(model, "capture_unsupported", None)

    def __call__(self, ids: torch.Tensor, view: RowCache, **kwargs) -> torch.Tensor:
        if self.fallback or ids.shape[1] != 1 or view.kv.data_ptr() != self.cache.kv.data_ptr():
            return self.model(ids, view, **kwargs)
        n, lengths = ids.shape[0], view.lengths
        batch = min(_next_pow2(n), self.cache.batch_size)
        kv_len = min(max(MIN_KV_BUCKET, _next_pow2(max(lengths) + 1)), self.cache.max_len)
        padded_ids = torch.zeros(batch, 1, dtype=ids.dtype, device=ids.device)
        padded_ids[:n] = ids
        padded_lengths = torch.tensor(lengths + [0] * (batch - n), device=ids.device)  # free rows: slot 0
        try:
            entry = self.graphs.get((batch, kv_len)) or self._capture(batch, kv_len, padded_ids, padded_lengths)
        except Exception as exc:  # capture is an optimisation: never a reason to fail a request
            self.fallback = f"CUDA graph capture failed ({type(exc).__name__}: {exc})"
            return self.model(ids, view, **kwargs)
        entry.ids.copy_(padded_ids)
        entry.lengths.copy_(padded_lengths)
        entry.graph.replay()
        view.lengths = [length + 1 for length in lengths]
        return entry.logits[:n]

    def _capture(self, batch: int, kv_len: int, ids: torch.Tensor, lengths: torch.Tensor) -> _Graph:
        """Warm up on a side stream, then capture. The warm-up runs on this step's real inputs, so
        the cache slots it writes hold exactly what the replay writes again."""
        ids_buf, len_buf = ids.clone(), lengths.clone()
        kv = self.cache.kv[:, :batch]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                static_decode(self.model, ids_buf, len_buf, kv, kv_len)
        torch.cuda.current_stream().wait_stream(stream)
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            logits = static_decode(self.model, ids_buf, len_buf, kv, kv_len)
        entry = self.graphs[(batch, kv_len)] = _Graph(graph, ids_buf, len_buf, logits)
        return entry


def _next_pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()
