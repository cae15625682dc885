"""Continuous batching bookkeeping: which sequences wait, which run, and in which cache row.

Pure Python, no torch. Each engine step starts by asking the scheduler for a `StepPlan`
(what to free, which prompt chunks to prefill, which rows to decode) and ends by telling it
which sequences finished (`remove`). Running sequences always occupy cache rows [0, n)
("packed"), so that a decode step is one forward over a contiguous view of the cache; when
a sequence leaves from the middle, the last one moves into its row (the engine copies that
row of the cache).

At most one sequence is being prefilled at a time, in row n, just past the running ones:
its prompt goes into the cache a chunk per engine step, between the running sequences'
decode steps. Once a chunk completes its prompt it runs (as row n), and the next waiting
sequence may start in row n + 1 within the same step's prefill budget.
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
    prefilled: int = 0  # prompt tokens in its cache row once the planned chunks have run
    cancelled: bool = False
    finish_reason: str | None = None
    generator: Any = None  # the torch.Generator of sampled (non-greedy) sequences

    @property
    def context(self) -> list[int]:
        return self.prompt + self.generated


@dataclass(frozen=True)
class PrefillChunk:
    """prompt[start:stop] of `seq` goes into cache row `row` (which starts empty when start is 0)."""

    seq: Sequence
    row: int
    start: int
    stop: int

    @property
    def completes(self) -> bool:
        """The whole prompt is in after this chunk: its logits give the sequence's first token."""
        return self.stop == len(self.seq.prompt)


@dataclass(frozen=True)
class StepPlan:
    """One engine step, decided before it runs; while it runs, no row moves.

    The engine ends the cancelled sequences, makes the row moves, runs one forward per
    prefill chunk and one decode forward over rows [0, len(decode)), then hands out the new
    tokens (and only then frees the rows of the sequences they finish).
    """

    cancelled: tuple[Sequence, ...] = ()  # end as "cancelled"; any row they held is already free
    moves: tuple[tuple[int, int], ...] = ()  # cache rows to copy (src, dst), in order, that keep rows packed
    prefill: tuple[PrefillChunk, ...] = ()  # in order; a completing chunk's sequence runs from the next step
    decode: tuple[Sequence, ...] = ()  # the sequences running before this step: decode[i] is in row i


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

    def plan(self, prefill_budget: int) -> StepPlan:
        """The next step, with up to `prefill_budget` prompt tokens prefilled (oldest sequence first).

        The plan is committed as it is made: cancelled sequences leave their rows, chunks
        count as prefilled, and a sequence whose prompt a chunk completes is running.
        """
        cancelled = [s for s in self.waiting if s.cancelled] + [s for s in self.holding if s.cancelled]
        self.waiting = deque(s for s in self.waiting if not s.cancelled)
        moves = []
        for seq in cancelled:
            if seq.row is not None:
                moves += self.remove(seq)
        decode = tuple(self.running)
        chunks = []
        while prefill_budget > 0 and (seq := self.prefilling or self._start_prefill()) is not None:
            chunk = PrefillChunk(seq, seq.row, seq.prefilled, min(len(seq.prompt), seq.prefilled + prefill_budget))
            chunks.append(chunk)
            prefill_budget -= chunk.stop - chunk.start
            seq.prefilled = chunk.stop
            if chunk.completes:
                self.prefilling = None
                self.running.append(seq)
        return StepPlan(tuple(cancelled), tuple(moves), tuple(chunks), decode)

    def _start_prefill(self) -> Sequence | None:
        """The oldest waiting sequence, moved into the row after the running ones, if one is free."""
        if not self.waiting or len(self.running) >= self.max_batch:
            return None
        seq = self.prefilling = self.waiting.popleft()
        seq.row = len(self.running)
        return seq

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
