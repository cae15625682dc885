"""The KV caches: MLA's latent cache and grouped-query attention's key/value cache.

* LatentCache (MLA). Per layer and token MLA needs only the normalised KV latent
  (R = kv_lora_rank values) and the post-RoPE shared key (Dr = qk_rope_head_dim values):
  nothing per head. They are stored side by side as one [R + Dr] row, which is exactly the
  key of the absorbed attention (and its first R values are the value).
  Bytes per token: (R + Dr) * layers * dtype size.
* KVCache (GQA, Qwen3-MoE). Per layer and token the post-norm, post-RoPE key and the value
  of each key/value head: 2 * Hkv * Dh values, laid out heads first ([Hkv, 2, T, Dh] per row)
  so that one head's keys are a contiguous [T, Dh] matrix the attention multiplies directly.
  Bytes per token: 2 * Hkv * Dh * layers * dtype size.

Both hold one preallocated tensor `kv` whose dim 0 is the layer and dim 1 the row, and share
the row bookkeeping below. Rows of the batch are independent sequences with their own lengths
("ragged"): a forward step appends `seq_lens[b]` tokens to row b at positions lengths[b],
lengths[b]+1, ...

Shapes: L layers, B rows, T capacity in tokens, S new tokens, N valid new tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import torch

from .config import ModelConfig


@dataclass(frozen=True)
class CacheStep:
    """Where one forward call writes and how far it reads (all computed on the host, no sync)."""

    starts: tuple[int, ...]  # per row: tokens cached before this step
    seq_lens: tuple[int, ...]  # per row: valid new tokens this step (the rest is right padding)
    kv_len: int  # keys to attend over: max(starts[b] + seq_lens[b])
    rows: torch.Tensor  # [N] row index of each valid new token
    slots: torch.Tensor  # [N] cache position of each valid new token
    valid: torch.Tensor | None  # [B, S] bool, None when every new token is valid


class RowCache:
    """What both caches share: `kv` [L, B, ...] with the token axis at `time_dim`, a host-side
    length per row, row views, row moves and the write plan of a step.

    A subclass sets `time_dim` and `token_shape` (the values of one token in one layer) and
    implements `store` / `visible`, the two layout-specific operations (also used by the
    captured decode step of graphs.py, which writes at device-held slots).
    """

    time_dim: int
    token_shape: tuple[int, ...]

    def __init__(self, kv: torch.Tensor):
        self.kv = kv
        self.max_len = kv.shape[self.time_dim]
        self._all_lengths = [0] * kv.shape[1]  # host-side, so that no step has to read the device
        self._first = 0  # a view of rows [first, first + batch) shares the owner's lengths

    @staticmethod
    def store(layer_kv: torch.Tensor, rows: torch.Tensor, slots: torch.Tensor, new: torch.Tensor) -> None:
        """Write new [N, *token_shape] at (rows[i], slots[i]) of one layer's cache [B, ...]."""
        raise NotImplementedError

    @staticmethod
    def visible(layer_kv: torch.Tensor, kv_len: int) -> torch.Tensor:
        """One layer's first kv_len positions, as the attention reads them (a view)."""
        raise NotImplementedError

    @property
    def lengths(self) -> list[int]:
        """Tokens cached per row (a copy; assign a new list to change them)."""
        return self._all_lengths[self._first : self._first + self.batch_size]

    @lengths.setter
    def lengths(self, values: Sequence[int]) -> None:
        if len(values) != self.batch_size:
            raise ValueError(f"{len(values)} lengths for {self.batch_size} rows")
        self._all_lengths[self._first : self._first + self.batch_size] = list(values)

    def rows(self, start: int, stop: int):
        """A cache over rows [start, stop) sharing this one's storage and lengths.

        The engine runs a forward over just the sequences that take part in a step (one
        new prompt, or the running rows) without copying anything.
        """
        if not 0 <= start < stop <= self.batch_size:
            raise ValueError(f"rows [{start}, {stop}) outside a cache of {self.batch_size}")
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view.kv = self.kv[:, start:stop]
        view._first = self._first + start
        return view

    def move_row(self, src: int, dst: int) -> None:
        """Copy row `src` (its cached tokens and length) into row `dst`, e.g. to keep rows packed."""
        n = self.lengths[src]
        tokens = self.time_dim - 1  # the token axis once the row is indexed
        self.kv[:, dst].narrow(tokens, 0, n).copy_(self.kv[:, src].narrow(tokens, 0, n))
        lengths = self.lengths
        lengths[dst] = n
        self.lengths = lengths

    @property
    def batch_size(self) -> int:
        return self.kv.shape[1]

    def bytes_per_token(self) -> int:
        """Cache bytes one token costs across all layers."""
        return self.kv.shape[0] * math.prod(self.token_shape) * self.kv.element_size()

    def reset(self, row: int | None = None) -> None:
        """Forget row `row` (or every row); its slots are reused by the next writes."""
        lengths = self.lengths
        for r in range(self.batch_size) if row is None else (row,):
            lengths[r] = 0
        self.lengths = lengths

    def prepare(self, seq_len: int, seq_lens: Sequence[int] | None = None) -> CacheStep:
        """Plan a step that appends seq_lens[b] (default: all seq_len) tokens to each row."""
        batch = self.batch_size
        lens = tuple(seq_lens) if seq_lens is not None else (seq_len,) * batch
        if len(lens) != batch:
            raise ValueError(f"seq_lens has {len(lens)} entries for a cache of {batch} rows")
        starts = tuple(self.lengths)
        ends = [s + n for s, n in zip(starts, lens)]
        if max(ends) > self.max_len:
            raise ValueError(f"cache overflow: a row needs {max(ends)} tokens, capacity is {self.max_len}")
        rows = [b for b in range(batch) for _ in range(lens[b])]
        slots = [starts[b] + i for b in range(batch) for i in range(lens[b])]
        device = self.kv.device
        valid = None
        if any(n != seq_len for n in lens):
            valid = torch.arange(seq_len, device=device)[None, :] < torch.tensor(lens, device=device)[:, None]
        return CacheStep(starts, lens, max(ends), torch.tensor(rows, device=device),
                         torch.tensor(slots, device=device), valid)

    def write(self, layer: int, step: CacheStep, new: torch.Tensor) -> torch.Tensor:
        """Store this step's new tokens for `layer`; return everything to attend over (a view).

        new: [B, S, *token_shape]; its padded positions (step.valid False) are not stored.
        """
        cache = self.kv[layer]
        new = new if step.valid is None else new[step.valid]
        self.store(cache, step.rows, step.slots, new.reshape(-1, *self.token_shape).to(cache.dtype))
        return self.visible(cache, step.kv_len)

    def commit(self, step: CacheStep) -> None:
        """Advance the row lengths once every layer has written."""
        self.lengths = [s + n for s, n in zip(step.starts, step.seq_lens)]


class LatentCache(RowCache):
    """MLA's cache: kv [L, B, T, R + Dr] (normalised latent ++ roped shared key per token)."""

    time_dim = 2

    def __init__(self, config: ModelConfig, batch_size: int, max_len: int,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        self.width = config.kv_lora_rank + config.qk_rope_head_dim
        self.token_shape = (self.width,)
        super().__init__(torch.zeros(config.num_hidden_layers, batch_size, max_len, self.width,
                                     device=device, dtype=dtype))

    @staticmethod
    def store(layer_kv, rows, slots, new) -> None:
        """layer_kv [B, T, W] <- new [N, W]."""
        layer_kv[rows, slots] = new

    @staticmethod
    def visible(layer_kv, kv_len) -> torch.Tensor:
        """-> [B, kv_len, R + Dr]."""
        return layer_kv[:, :kv_len]


class KVCache(RowCache):
    """Grouped-query attention's cache: kv [L, B, Hkv, 2, T, Dh], index 0 of the pair the
    post-RoPE key, 1 the value: exactly 2 * Hkv * Dh values per token and layer."""

    time_dim = 4

    def __init__(self, config: ModelConfig, batch_size: int, max_len: int,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        heads, dim = config.num_key_value_heads, config.head_dim
        self.token_shape = (heads, 2, dim)
        super().__init__(torch.zeros(config.num_hidden_layers, batch_size, heads, 2, max_len, dim,
                                     device=device, dtype=dtype))

    @staticmethod
    def store(layer_kv, rows, slots, new) -> None:
        """layer_kv [B, Hkv, 2, T, Dh] <- new [N, Hkv, 2, Dh]."""
        layer_kv[rows, :, :, slots] = new

    @staticmethod
    def visible(layer_kv, kv_len) -> torch.Tensor:
        """-> [B, Hkv, 2, kv_len, Dh]: keys [:, :, 0], values [:, :, 1], each [B, Hkv, kv_len, Dh]
        with rows and heads collapsible into one batch dimension (no copy for a bmm)."""
        return layer_kv[:, :, :, :kv_len]


def cache_class(config: ModelConfig) -> type[RowCache]:
    """The cache `config`'s attention reads: LatentCache for MLA, KVCache for GQA."""
    return KVCache if config.attention == "gqa" else LatentCache
