"""Continuous batching bookkeeping: which sequences wait, which run, and in which cache row.

Pure Python, no torch: the engine asks the scheduler what to do and tells it what
happened. Running sequences always occupy cache rows [0, n) ("packed"), so that a decode
step is one forward over a contiguous view of the cache; when a sequence leaves from the
middle, the last one moves into its row (the engine copies that row of the cache).

At most one sequence is being prefilled at a time, in row n, just past the running ones:
its prompt goes into the cache a piece per engine step, between the running sequences'
decode steps, and it joins them (as row n) once its prompt is in.
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
        self.prefilling: Sequence | None = None  # its row is len(running)

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return self.active > 0

    @property
    def holding(self) -> list[Sequence]:
        """The sequences that hold a cache row: the running ones, then the one being prefilled."""
        return self.running + ([self.prefilling] if self.prefilling is not None else [])

    @property
    def active(self) -> int:
        """Sequences waiting, being prefilled or running."""
        return len(self.waiting) + len(self.holding)

    def start_prefill(self) -> Sequence | None:
        """The oldest waiting sequence, moved into the row after the running ones, if one is free
        and no other prefill is under way; None otherwise."""
        if self.prefilling is not None or not self.waiting or len(self.running) >= self.max_batch:
            return None
        seq = self.prefilling = self.waiting.popleft()
        seq.row = len(self.running)
        return seq

    def finish_prefill(self, seq: Sequence) -> None:
        """The prompt of `seq` is in the cache: it runs from now on (its row is already the next one)."""
        assert self.prefilling is seq and seq.row == len(self.running)
        self.prefilling = None
        self.running.append(seq)

    def take_cancelled(self) -> tuple[list[Sequence], list[Sequence]]:
        """(cancelled waiting sequences, now dropped; cancelled ones holding a row, still to be removed)."""
        dropped = [s for s in self.waiting if s.cancelled]
        self.waiting = deque(s for s in self.waiting if not s.cancelled)
        return dropped, [s for s in self.holding if s.cancelled]

    def remove(self, seq: Sequence) -> list[tuple[int, int]]:
        """Take a running or prefilling sequence out.

        Returns the row moves (src, dst) that keep rows packed, in the order to make them:
        the last running row into the freed one, then the prefilling row down by one.
        """
        row = seq.row
        assert row is not None
        seq.row = None
        if seq is self.prefilling:
            self.prefilling = None
            return []
        assert self.running[row] is seq
        moves = []
        last = len(self.running) - 1
        if row != last:
            tail = self.running[last]
            self.running[row], tail.row = tail, row
            moves.append((last, row))
        self.running.pop()
        if self.prefilling is not None:
            moves.append((last + 1, last))
            self.prefilling.row = last
        return moves
