"""Choosing the next token from logits: greedy, temperature, top-k, top-p, repetition penalty.

The order is transformers': repetition penalty, temperature, top-k, top-p, then a draw.
Shapes: V vocab.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. temperature 0 means greedy (argmax)."""

    temperature: float = 1.0  # divides the logits; 0 is greedy
    top_p: float = 1.0  # keep the smallest set of tokens whose probability reaches top_p (1: all)
    top_k: int = 0  # keep the k most likely tokens (0: all)
    repetition_penalty: float = 1.0  # >1 discourages tokens already in the context (CTRL-style)
    seed: int | None = None  # seeds the draws of one generation; None draws from a fresh seed

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def generator(self, device: torch.device | str = "cpu") -> torch.Generator:
        """A random generator for one sequence, seeded when `seed` is set."""
        g = torch.Generator(device=device)
        if self.seed is None:
            g.seed()
        else:
            g.manual_seed(self.seed)
        return g


def apply_repetition_penalty(logits: torch.Tensor, context: Iterable[int], penalty: float) -> torch.Tensor:
    """Divide positive (multiply negative) logits of tokens seen in `context`. logits: [V] float32."""
    if penalty == 1.0:
        return logits
    ids = torch.tensor(sorted(set(context)), dtype=torch.long, device=logits.device)
    if ids.numel() == 0:
        return logits
    seen = logits[ids]
    logits = logits.clone()
    logits[ids] = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set to -inf every logit outside the top-k / top-p set. logits: [V] float32 -> [V]."""
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # drop a token when the tokens before it already reach top_p; the first always stays
        drop = (cumulative - sorted_logits.softmax(-1)) >= top_p
        logits = logits.masked_fill(drop.scatter(0, order, drop), float("-inf"))
    return logits


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None = None,
           context: Iterable[int] = ()) -> int:
    """Pick one token id from logits [V] (any float dtype) given the context so far."""
    logits = apply_repetition_penalty(logits.float(), context, params.repetition_penalty)
    if params.greedy:
        return int(logits.argmax())
    logits = filter_logits(logits / params.temperature, params.top_k, params.top_p)
    probs = logits.softmax(-1)
    return int(torch.multinomial(probs, 1, generator=generator))
