"""The engine: one thread that owns the model and the cache and runs continuous batching.

Each `step()`: drop cancelled sequences; prefill up to `prefill_chunk` prompt tokens of
waiting sequences (oldest first, each in its own cache row; a longer prompt continues at
the next step), then one decode forward over every running sequence at once. So a long
prompt arriving never stalls the running sequences for more than one chunk's prefill.
Requests join between steps; a finished or cancelled one frees its row at once. Callers
talk to the engine only through `submit` / `cancel` and the callbacks of their
`Sequence`, from any thread.

    engine = Engine(model, EngineConfig(max_batch=8, max_len=8192)); engine.start()
    for token in engine.generate(prompt_ids, max_new_tokens=64): ...
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Collection, Iterator, Sequence as Seq
from dataclasses import dataclass

import torch

from .sampling import SamplingParams, sample
from .scheduler import Scheduler, Sequence


@dataclass(frozen=True)
class EngineConfig:
    """How much the engine holds at once."""

    max_batch: int = 8  # sequences decoded together: the rows of the latent cache
    max_len: int = 8192  # tokens per sequence, prompt + completion: the cache's capacity per row
    # prompt tokens prefilled per step, before the running sequences take their next decode step:
    # a longer prompt goes in over several steps (this also bounds a prefill's activation memory)
    prefill_chunk: int = 1024
    cuda_graphs: bool = True  # on CUDA, decode through captured graphs (falls back to eager if capture fails)


class PromptTooLong(ValueError):
    """The prompt leaves no room for a single new token in a cache row."""


class Engine:
    """Continuous batching over one DeepseekModel (or anything with its forward/new_cache)."""

    def __init__(self, model, config: EngineConfig = EngineConfig()):
        self.model, self.config = model, config
        self.cache = model.new_cache(config.max_batch, config.max_len)
        self.scheduler = Scheduler(config.max_batch)
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.decoder = model
        if config.cuda_graphs and model.device.type == "cuda":
            from .graphs import GraphedDecoder

            self.decoder = GraphedDecoder(model, self.cache)

    # ---- the caller's side (any thread) ---------------------------------------------------
    def start(self) -> "Engine":
        self._thread = threading.Thread(target=self._run, name="local_model-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join()

    def submit(self, seq: Sequence) -> Sequence:
        """Queue a sequence; raises PromptTooLong when it cannot fit a cache row."""
        room = self.config.max_len - len(seq.prompt)
        if not seq.prompt:
            raise ValueError("the prompt is empty")
        if room < 1:
            raise PromptTooLong(f"the prompt has {len(seq.prompt)} tokens; this engine holds at most "
                                f"{self.config.max_len} per sequence (prompt + completion)")
        seq.max_new_tokens = min(seq.max_new_tokens, room)
        if not seq.sampling.greedy:
            seq.generator = seq.sampling.generator(self.model.device)
        with self._lock:
            self.scheduler.add(seq)
            self._lock.notify_all()
        return seq

    def cancel(self, seq: Sequence) -> None:
        """Stop generating for `seq` (e.g. its client went away); its row is freed at the next step."""
        with self._lock:
            seq.cancelled = True
            self._lock.notify_all()

    @property
    def active(self) -> int:
        """Sequences waiting, being prefilled or running."""
        with self._lock:
            return self.scheduler.active

    def generate(self, prompt: Seq[int], *, max_new_tokens: int = 256, sampling: SamplingParams = SamplingParams(),
                 stop_token_ids: Collection[int] = ()) -> Iterator[int]:
        """Blocking convenience: yield the new token ids of one sequence (the stop id is not yielded).

        Closing the iterator early cancels the sequence.
        """
        out: queue.Queue = queue.Queue()
        seq = Sequence(list(prompt), max_new_tokens, sampling, frozenset(stop_token_ids),
                       emit=out.put, done=lambda reason: out.put(StopIteration(reason)))
        self.submit(seq)
        try:
            while not isinstance(item := out.get(), StopIteration):
                yield item
            if item.value.startswith("error"):
                raise RuntimeError(f"generation failed: {item.value}")
        finally:
            self.cancel(seq)

    # ---- the engine thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and not self.scheduler.has_work():
                    self._lock.wait()
                if self._stopping:
                    return
            try:
                self.step()
            except Exception as exc:  # a failed step fails its sequences, never the engine
                with self._lock:
                    victims = self.scheduler.holding
                for seq in victims:
                    self._finish(seq, f"error: {type(exc).__name__}: {exc}")

    @torch.inference_mode()
    def step(self) -> None:
        """One round: drop cancelled sequences, prefill up to one chunk of prompts, decode all running ones."""
        with self._lock:
            dropped, cancelled = self.scheduler.take_cancelled()
            for seq in cancelled:
                self._remove(seq)
        for seq in dropped + cancelled:
            seq.done("cancelled")
        budget = self.config.prefill_chunk
        while budget > 0:
            with self._lock:
                seq = self.scheduler.prefilling
                if seq is None and (seq := self.scheduler.start_prefill()) is not None:
                    self.cache.reset(seq.row)  # a row an earlier sequence may have used
            if seq is None:
                break
            try:
                budget -= self._prefill(seq, budget)
            except Exception as exc:  # e.g. out of memory on a long prompt: fail that request only
                self._finish(seq, f"error: {type(exc).__name__}: {exc}")
        with self._lock:
            running = list(self.scheduler.running)
        if running:
            self._decode(running)

    def _prefill(self, seq: Sequence, budget: int) -> int:
        """Put up to `budget` more prompt tokens of `seq` into its cache row; returns how many.

        Once the whole prompt is in, the sequence runs and its first token is picked.
        """
        row = self.cache.rows(seq.row, seq.row + 1)
        done = row.lengths[0]  # prompt tokens already in (the row moves with them if rows are repacked)
        n = min(budget, len(seq.prompt) - done)
        ids = torch.tensor([seq.prompt[done : done + n]], device=self.model.device)
        logits = self.model(ids, row, last_only=True)
        if done + n == len(seq.prompt):
            with self._lock:
                self.scheduler.finish_prefill(seq)
            self._advance([seq], logits[:, -1])
        return n

    def _decode(self, running: list[Sequence]) -> None:
        view = self.cache.rows(0, len(running))
        ids = torch.tensor([[seq.generated[-1]] for seq in running], device=self.model.device)
        logits = self.decoder(ids, view)
        self._advance(running, logits[:, -1])

    def _advance(self, seqs: list[Sequence], logits: torch.Tensor) -> None:
        """Pick each sequence's next token from logits [N, V]; emit it or finish the sequence."""
        greedy = [i for i, s in enumerate(seqs) if s.sampling.greedy and s.sampling.repetition_penalty == 1.0]
        picks: dict[int, int] = {}
        if greedy:  # one device read for all greedy rows
            picks = dict(zip(greedy, logits[greedy].argmax(-1).tolist()))
        for i, seq in enumerate(seqs):
            token = picks[i] if i in picks else sample(logits[i], seq.sampling, seq.generator, seq.context)
            seq.generated.append(token)
            if token in seq.stop_ids:
                self._finish(seq, "stop")
                continue
            seq.emit(token)
            if len(seq.generated) >= seq.max_new_tokens:
                self._finish(seq, "length")

    def _finish(self, seq: Sequence, reason: str) -> None:
        with self._lock:
            if seq.row is not None:
                self._remove(seq)
        seq.finish_reason = reason
        seq.done(reason)

    def _remove(self, seq: Sequence) -> None:
        """Free the sequence's row (lock held); keep rows packed by moving the last ones down."""
        for src, dst in self.scheduler.remove(seq):
            self.cache.move_row(src, dst)
