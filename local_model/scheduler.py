"""Continuous batching bookkeeping: which sequences wait, which run, and in which cache row.

Pure Python, no torch: the engine asks the scheduler what to do and tells it what
happened. Running sequences always occupy cache rows [0, n) ("packed"), so that a decode
step is one forward over a contiguous view of the cache; when a sequence leaves from the
middle, the last one moves into its row (the engine copies that row of the cache).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FINISH_REASONS = ("stop", "length", "cancelled", "error")


@dataclass(eq=False)
class Sequence:
    """One request's generation state.

    emit(token_id) is called for each new token (from the engine's thread); done(reason)
    once at the end, reason in FINISH_REASONS. A stop id ends the sequence with "stop"
    without being emitted.
    """

    prompt: list[int]
    max_new_tokens: int
    sampling: Any  # SamplingParams
    stop_ids: frozenset[int]
    emit: Callable[[int], None]
    done: Callable[[str], None]
    generated: list[int] = field(default_factory=list)
    row: int | None = None
    cancelled: bool = False
    finish_reason: str | None = None
    generator: Any = None  # the torch.Generator of sampled (non-greedy) sequences

    @property
    def context(self) -> list[int]:
        return self.prompt + self.generated


class Scheduler:
    """FIFO admission into at most `max_batch` cache rows."""

    def __init__(self, max_batch: int):
        self.max_batch = max_batch
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []  # running[i].row == i

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def admit(self) -> list[Sequence]:
        """Move waiting sequences into free rows, oldest first; return them (they need a prefill)."""
        admitted = []
        while self.waiting and len(self.running) < self.max_batch:
            seq = self.waiting.popleft()
            seq.row = len(self.running)
            self.running.append(seq)
            admitted.append(seq)
        return admitted

    def take_cancelled(self) -> tuple[list[Sequence], list[Sequence]]:
        """(cancelled waiting sequences, now dropped; cancelled running ones, still to be removed)."""
        dropped = [s for s in self.waiting if s.cancelled]
        self.waiting = deque(s for s in self.waiting if not s.cancelled)
        return dropped, [s for s in self.running if s.cancelled]

    def remove(self, seq: Sequence) -> tuple[int, int] | None:
        """Take a running sequence out. Returns (src, dst) when the last row must move into its row."""
        row, last = seq.row, len(self.running) - 1
        assert row is not None and self.running[row] is seq
        moved = None
        if row != last:
            tail = self.running[last]
            self.running[row], tail.row = tail, row
            moved = (last, row)
        self.running.pop()
        seq.row = None
        return moved
