"""The engine: one thread that owns the model and the cache and runs continuous batching.

Each `step()` is plan, run, post-process. The scheduler plans it (a `StepPlan`): drop
cancelled sequences, prefill up to `prefill_chunk` prompt tokens of waiting sequences
(oldest first, each in its own cache row; a longer prompt continues at the next step), then
one decode forward over every sequence that was running. The run makes those forwards and
picks the new tokens; post-processing hands them out and frees the rows of the sequences
that finished. So a long prompt arriving never stalls the running sequences for more than
one chunk's prefill (a sequence whose prompt a step completes decodes from the next step on).
Requests join between steps; a finished one frees its row at once, a cancelled one at the
start of the next step. Callers talk to the engine only through `submit` / `cancel` and the
callbacks of their `Sequence`, from any thread.

    engine = Engine(model, EngineConfig(max_batch=8, max_len=8192)); engine.start()
    for token in engine.generate(prompt_ids, max_new_tokens=64): ...

Shapes: N sequences in a forward, V vocab.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Collection, Iterator, Sequence as Seq
from dataclasses import dataclass

import torch

from .graphs import GraphedDecoder
from .sampling import SamplingParams, sample
from .scheduler import PrefillChunk, Scheduler, Sequence, StepPlan


@dataclass(frozen=True)
class EngineConfig:
    """How much the engine holds at once."""

    max_batch: int = 8  # sequences decoded together: the rows of the KV cache (latent or GQA)
    max_len: int = 8192  # tokens per sequence, prompt + completion: the cache's capacity per row
    # prompt tokens prefilled per step, before the running sequences take their next decode step:
    # a longer prompt goes in over several steps (this also bounds a prefill's activation memory)
    prefill_chunk: int = 1024
    cuda_graphs: bool = True  # on CUDA, decode through captured graphs (falls back to eager if capture fails)


class PromptTooLong(ValueError):
    """The prompt leaves no room for a single new token in a cache row."""


@dataclass(frozen=True)
class StepOutput:
    """What running one StepPlan produced; nothing of it has been emitted yet."""

    tokens: tuple[tuple[Sequence, int], ...]  # (sequence, its new token): completed prefills, then decode rows
    failed: tuple[tuple[Sequence, str], ...]  # (sequence, "error: ...") whose prefill chunk raised


class Engine:
    """Continuous batching over one DeepseekModel (or anything with its forward/new_cache)."""

    def __init__(self, model, config: EngineConfig = EngineConfig()):
        self.model, self.config = model, config
        self.cache = model.new_cache(config.max_batch, config.max_len)
        self.scheduler = Scheduler(config.max_batch)
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        # decode through captured CUDA graphs while they work; None: straight through the model
        self.graphs = GraphedDecoder(model, self.cache) if config.cuda_graphs and model.device.type == "cuda" else None

    # ---- the caller's side (any thread) ---------------------------------------------------
    def start(self) -> "Engine":
        self._thread = threading.Thread(target=self._loop, name="local_model-engine", daemon=True)
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
    def _loop(self) -> None:
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
                    self._finish(seq, _error_reason(exc))

    @torch.inference_mode()
    def step(self) -> None:
        """One round: the scheduler plans it, the model runs it, the new tokens go out."""
        with self._lock:
            plan = self.scheduler.plan(self.config.prefill_chunk)
        for seq in plan.cancelled:  # before anything runs, so that they end even if the step fails
            self._finish(seq, "cancelled")
        self._postprocess(self._execute(plan))

    def _execute(self, plan: StepPlan) -> StepOutput:
        """Make the plan's row moves and forward passes and pick the new tokens; emit nothing, free nothing."""
        for src, dst in plan.moves:
            self.cache.move_row(src, dst)
        tokens: list[tuple[Sequence, int]] = []
        failed: list[tuple[Sequence, str]] = []
        for chunk in plan.prefill:
            try:
                logits = self._prefill(chunk)
            except Exception as exc:  # e.g. out of memory on a long prompt: fail that request only
                failed.append((chunk.seq, _error_reason(exc)))
                continue
            if logits is not None:
                tokens.append((chunk.seq, self._pick([chunk.seq], logits)[0]))
        if plan.decode:
            tokens += zip(plan.decode, self._pick(plan.decode, self._decode(plan.decode)))
        return StepOutput(tuple(tokens), tuple(failed))

    def _postprocess(self, output: StepOutput) -> None:
        """Fail the sequences whose prefill raised; emit each new token or finish its sequence."""
        for seq, reason in output.failed:
            self._finish(seq, reason)
        for seq, token in output.tokens:
            seq.generated.append(token)
            if token in seq.stop_ids:
                self._finish(seq, "stop")
                continue
            seq.emit(token)
            if len(seq.generated) >= seq.max_new_tokens:
                self._finish(seq, "length")

    def _prefill(self, chunk: PrefillChunk) -> torch.Tensor | None:
        """Put the chunk's prompt tokens into its cache row.

        Returns the logits [1, V] of the prompt's last token if the chunk completes it, else None.
        """
        if chunk.start == 0:
            self.cache.reset(chunk.row)  # a row an earlier sequence may have used
        row = self.cache.rows(chunk.row, chunk.row + 1)
        assert row.lengths == [chunk.start], "the scheduler and the cache disagree on what is prefilled"
        ids = torch.tensor([chunk.seq.prompt[chunk.start : chunk.stop]], device=self.model.device)
        logits = self.model(ids, row, last_only=True)
        return logits[:, -1] if chunk.completes else None

    def _decode(self, seqs: tuple[Sequence, ...]) -> torch.Tensor:
        """One decode forward over rows [0, N), seqs[i] in row i fed its last token; returns logits [N, V]."""
        view = self.cache.rows(0, len(seqs))
        ids = torch.tensor([[seq.generated[-1]] for seq in seqs], device=self.model.device)
        if self.graphs is None:
            return self.model(ids, view)[:, -1]
        logits = self.graphs(ids, view)
        if self.graphs.fallback is not None:  # said once; the model decodes directly from now on
            warnings.warn(f"local_model: CUDA graphs off, decoding eagerly: {self.graphs.fallback}", RuntimeWarning)
            self.graphs = None
        return logits[:, -1]

    def _pick(self, seqs: Seq[Sequence], logits: torch.Tensor) -> list[int]:
        """Each sequence's next token from logits [N, V] (row i for seqs[i])."""
        greedy = [i for i, s in enumerate(seqs) if s.sampling.greedy and s.sampling.repetition_penalty == 1.0]
        picks: dict[int, int] = {}
        if greedy:  # one device read for all greedy rows
            picks = dict(zip(greedy, logits[greedy].argmax(-1).tolist()))
        return [picks[i] if i in picks else sample(logits[i], seq.sampling, seq.generator, seq.context)
                for i, seq in enumerate(seqs)]

    def _finish(self, seq: Sequence, reason: str) -> None:
        """End `seq` with `reason`; free its row if it holds one, keeping rows packed."""
        with self._lock:
            if seq.row is not None:
                for src, dst in self.scheduler.remove(seq):
                    self.cache.move_row(src, dst)
        seq.finish_reason = reason
        seq.done(reason)


def _error_reason(exc: Exception) -> str:
    return f"error: {type(exc).__name__}: {exc}"
