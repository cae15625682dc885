"""Token generation (a generator of ids that knows nothing about chat) and streaming detokenisation."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

import torch

from .model import DeepseekModel
from .sampling import SamplingParams, sample


def generate(model: DeepseekModel, prompt_ids: Sequence[int], *, max_new_tokens: int = 256,
             sampling: SamplingParams = SamplingParams(), stop_token_ids: Collection[int] = ()) -> Iterator[int]:
    """Yield new token ids one at a time: prefill the prompt, then decode with the KV cache.

    Stops after `max_new_tokens` ids or after yielding a stop id (the stop id is yielded, so the
    caller can tell "stopped" from "ran out of tokens").
    """
    if not prompt_ids:
        raise ValueError("generate needs at least one prompt token")
    if max_new_tokens <= 0:
        return
    device = model.device
    generator = sampling.generator(device)
    cache = model.new_cache(1, len(prompt_ids) + max_new_tokens)
    context = list(prompt_ids)
    logits = model(torch.tensor([context], device=device), cache, last_only=True)
    for i in range(max_new_tokens):
        token = sample(logits[0, -1], sampling, generator, context)
        yield token
        if token in stop_token_ids or i == max_new_tokens - 1:
            return
        context.append(token)
        logits = model(torch.tensor([[token]], device=device), cache)


class StreamDecoder:
    """Turns ids arriving one by one into text pieces, never cutting a multi-byte character.

    A byte-level tokenizer may spend several tokens on one character; until the last of them
    arrives the decoded tail is U+FFFD, and the piece is held back. Decoding a short window
    before the new ids (not only the new ids) keeps the spaces that SentencePiece-style
    decoders drop at the start of a text.
    """

    def __init__(self, decode: Callable[[list[int]], str]):
        self._decode = decode
        self._ids: list[int] = []
        self._prefix = 0  # start of the window that is decoded for context
        self._read = 0  # ids before this have been emitted

    def push(self, token_id: int) -> str:
        """Add one id; return the text it completes ("" while a character is incomplete)."""
        self._ids.append(token_id)
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        if len(text) > len(prefix_text) and not text.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self._ids)
            return text[len(prefix_text) :]
        return ""

    def flush(self) -> str:
        """Whatever is still held back (a genuinely incomplete character decodes as U+FFFD)."""
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return text[len(prefix_text) :]


def stream_text(ids: Iterable[int], decode: Callable[[list[int]], str]) -> Iterator[str]:
    """Text pieces for a stream of ids (e.g. from `generate`), complete characters only."""
    decoder = StreamDecoder(decode)
    for token_id in ids:
        if piece := decoder.push(token_id):
            yield piece
    if rest := decoder.flush():
        yield rest
