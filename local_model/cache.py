"""The latent KV cache of Multi-head Latent Attention.

Per layer and token MLA needs only the normalised KV latent (R = kv_lora_rank values) and
the post-RoPE shared key (Dr = qk_rope_head_dim values): nothing per head. They are stored
side by side as one [R + Dr] row, which is exactly the key of the absorbed attention
(and its first R values are the value). Bytes per token: (R + Dr) * layers * dtype size.

Rows of the batch are independent sequences with their own lengths ("ragged"): a forward
step appends `seq_lens[b]` tokens to row b at positions lengths[b], lengths[b]+1, ...

Shapes: L layers, B rows, T capacity in tokens, S new tokens.
"""

from __future__ import annotations

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


class LatentCache:
    """Preallocated cache of shape [L, B, T, R + Dr] plus a per-row length."""

    def __init__(self, config: ModelConfig, batch_size: int, max_len: int,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        self.width = config.kv_lora_rank + config.qk_rope_head_dim
        self.max_len = max_len
        self.kv = torch.zeros(config.num_hidden_layers, batch_size, max_len, self.width,
                              device=device, dtype=dtype)
        self._all_lengths = [0] * batch_size  # host-side, so that no step has to read the device
        self._first = 0  # a view of rows [first, first + batch) shares the owner's lengths

    @property
    def lengths(self) -> list[int]:
        """Tokens cached per row (a copy; assign a new list to change them)."""
        return self._all_lengths[self._first : self._first + self.batch_size]

    @lengths.setter
    def lengths(self, values: Sequence[int]) -> None:
        if len(values) != self.batch_size:
            raise ValueError(f"{len(values)} lengths for {self.batch_size} rows")
        self._all_lengths[self._first : self._first + self.batch_size] = list(values)

    def rows(self, start: int, stop: int) -> "LatentCache":
        """A cache over rows [start, stop) sharing this one's storage and lengths.

        The engine runs a forward over just the sequences that take part in a step (one
        new prompt, or the running rows) without copying anything.
        """
        if not 0 <= start < stop <= self.batch_size:
            raise ValueError(f"rows [{start}, {stop}) outside a cache of {self.batch_size}")
        view = object.__new__(LatentCache)
        view.width, view.max_len = self.width, self.max_len
        view.kv = self.kv[:, start:stop]
        view._all_lengths, view._first = self._all_lengths, self._first + start
        return view

    def move_row(self, src: int, dst: int) -> None:
        """Copy row `src` (its cached tokens and length) into row `dst`, e.g. to keep rows packed."""
        n = self.lengths[src]
        self.kv[:, dst, :n] = self.kv[:, src, :n]
        lengths = self.lengths
        lengths[dst] = n
        self.lengths = lengths

    @property
    def batch_size(self) -> int:
        return self.kv.shape[1]

    def bytes_per_token(self) -> int:
        """Cache bytes one token costs across all layers."""
        return self.kv.shape[0] * self.width * self.kv.element_size()

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

    def write(self, layer: int, step: CacheStep, kv_new: torch.Tensor) -> torch.Tensor:
        """Store this step's latent rows for `layer`; return everything to attend over.

        kv_new: [B, S, R + Dr] (normalised latent ++ roped shared key).
        Returns: [B, kv_len, R + Dr], a view of the cache.
        """
        cache = self.kv[layer]
        new = kv_new if step.valid is None else kv_new[step.valid]
        cache[step.rows, step.slots] = new.reshape(-1, self.width).to(cache.dtype)
        return cache[:, : step.kv_len]

    def commit(self, step: CacheStep) -> None:
        """Advance the row lengths once every layer has written."""
        self.lengths = [s + n for s, n in zip(step.starts, step.seq_lens)]
