"""Reasoning split from the answer: `<think>…</think>` out of the generated text.

Qwen3, DeepSeek-R1 and DeepSeek-V3.1's thinking mode write their reasoning first, between
`<think>` and `</think>`, then the answer. The server sends the reasoning as
`reasoning_content` (as DeepSeek's API and vLLM's reasoning parsers do) and parses tool calls
in the answer only, so a call the model drafts while thinking is not run.

Some templates open the block themselves (the prompt ends with `<think>`: DeepSeek-R1,
Qwen3's thinking-only models): then the output starts inside it and only `</think>` comes.
Otherwise the output is reasoning only when it begins with `<think>` (after whitespace); a
`<think>` later in an answer is the answer's text. Qwen3's `enable_thinking=False` renders an
empty block into the prompt, so its output is all answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tool_calls import partial_marker_len

OPEN, CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class Reasoning:
    """A piece of the model's reasoning (not part of its answer)."""

    text: str


def thinks(chat_template: str | None) -> bool:
    """Whether a chat template is a reasoning model's: it mentions the closing tag."""
    return bool(chat_template) and CLOSE in chat_template


def opens_in_prompt(prompt_text: str) -> bool:
    """Whether the rendered prompt ends inside a reasoning block (the template opened it)."""
    tail = prompt_text.rstrip()
    return tail.endswith(OPEN)


class ReasoningSplitter:
    """Streamed text -> str (answer) and Reasoning pieces, tags removed.

    feed(text) / finish() return the pieces in order. Text that may be the start of a tag is
    held back until the next piece settles it.
    """

    def __init__(self, inside: bool = False) -> None:
        # "start": not yet known whether the output opens a block; "think"; "after": just closed
        # (leading whitespace of the answer is dropped); "answer": everything else is answer
        self._state = "think" if inside else "start"
        self._buf = ""

    def feed(self, text: str) -> list[str | Reasoning]:
        self._buf += text
        out: list[str | Reasoning] = []
        while self._buf:
            if self._state == "start":
                head = self._buf.lstrip()
                if head.startswith(OPEN):
                    self._buf, self._state = head[len(OPEN):], "think"
                    continue
                if OPEN.startswith(head):  # whitespace, or a prefix of the tag: wait
                    return out
                self._state = "answer"
            elif self._state == "think":
                end = self._buf.find(CLOSE)
                if end >= 0:
                    if end:
                        out.append(Reasoning(self._buf[:end]))
                    self._buf, self._state = self._buf[end + len(CLOSE):], "after"
                    continue
                keep = partial_marker_len(self._buf, (CLOSE,))
                if len(self._buf) > keep:
                    out.append(Reasoning(self._buf[: len(self._buf) - keep]))
                    self._buf = self._buf[len(self._buf) - keep:]
                return out
            elif self._state == "after":
                self._buf = self._buf.lstrip()
                if not self._buf:
                    return out
                self._state = "answer"
            else:
                out.append(self._buf)
                self._buf = ""
        return out

    def finish(self) -> list[str | Reasoning]:
        """What is held back: reasoning if the block never closed (the output was cut off)."""
        rest, self._buf = self._buf, ""
        if not rest:
            return []
        if self._state == "think":
            return [Reasoning(rest)]
        if self._state == "after":
            return []
        return [rest] if rest.strip() else []

