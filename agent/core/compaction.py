"""Compaction: when the conversation nears the context window, older turns become a summary.

    [system, u1, a1, t1, a2, t2, u2, a3, t3, a4]            keep_turns=2
 -> [system, user(summary of u1…t2 + u2 verbatim + plan + files changed), a3, t3, a4]

The summary is written by the session's own model, without tools, from a transcript
(prompts/compact.md). Kept word for word: the latest user instruction, the plan (the
last `todo_write`), the list of files changed, and the last `keep_turns` model turns
with their tool results. The result is emitted as a `compacted` event carrying the new
conversation, so the session log can rebuild it on resume.

How full the context is: the provider's reported prompt size for the last request
(input + cache tokens, seen through `observe`) plus an estimate (characters / 4) of
what was added since; the estimate alone before the first report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from agent.core import events as ev
from agent.core.errors import AmaError
from agent.core.types import Message, Model, ModelSettings, TextDelta, Usage

TOOL_OUTPUT_CHARS = 2_000      # per tool result in the transcript sent for summarising
TRANSCRIPT_SHARE = 0.6         # of the context window, at most, for that transcript


def estimate_tokens(messages: list[Message]) -> int:
    """A provider-free estimate: ~4 characters a token, plus a little per message."""
    chars = 0
    for m in messages:
        chars += len(m.content) + 16
        for c in m.tool_calls:
            chars += len(c.name) + len(json.dumps(dict(c.arguments), ensure_ascii=False))
        for r in m.reasoning:
            chars += len(r.text)
    return chars // 4


@dataclass
class Compactor:
    """Decides when to compact and does it. Fields:

    model / settings: who writes the summary (the session's model) and how.
    emit:            the session's event sink.
    context_window:  the model's window, in tokens.
    threshold:       compact when the prompt would fill this fraction of it.
    keep_turns:      recent model turns kept verbatim.
    changed_files:   returns the paths changed in the workspace so far (optional).

What the summarising calls cost adds up in `spent` until the owner of the session's
usage takes it (`take_spent`), so the compactor needs no reference back to the agent.
    """
    model: Model
    emit: ev.EventSink
    context_window: int
    threshold: float = 0.8
    keep_turns: int = 2
    settings: ModelSettings = field(default_factory=lambda: ModelSettings(max_tokens=4096))
    changed_files: Callable[[], list[str]] | None = None
    spent: Usage = field(default_factory=Usage)
    _sent: int = 0                          # messages in the last request
    _measured: tuple[int, int] | None = None  # (messages sent, prompt tokens reported)

    # ---- measuring -------------------------------------------------------------------

    def observe(self, event: ev.Event) -> None:
        """An EventSink: records the provider's prompt size from usage events."""
        if isinstance(event, ev.UsageEvent):
            u = event.usage
            prompt = (u.get("input_tokens", 0) + u.get("cache_read_tokens", 0)
                      + u.get("cache_write_tokens", 0))
            if prompt:
                self._measured = (self._sent, int(prompt))

    def take_spent(self) -> Usage:
        """What the summarising calls cost since the last call, and reset it."""
        spent, self.spent = self.spent, Usage()
        return spent

    def tokens(self, messages: list[Message]) -> int:
        """How many tokens `messages` would take, best known."""
        if self._measured is not None and self._measured[0] <= len(messages):
            sent, prompt = self._measured
            return prompt + estimate_tokens(messages[sent:])
        return estimate_tokens(messages)

    # ---- deciding --------------------------------------------------------------------

    def maybe_compact(self, messages: list[Message]) -> list[Message]:
        """`messages`, compacted first if they near the window. Call before each request."""
        if self.tokens(messages) >= self.threshold * self.context_window:
            messages = self.compact(messages, reason="auto")
        self._sent = len(messages)
        return messages

    def compact(self, messages: list[Message], reason: str = "manual") -> list[Message]:
        """Summarise the older turns now (`/compact`). Returns the new conversation; the
        old one unchanged (with a warning) when there is nothing older to summarise or
        the summarising call fails."""
        system, rest = messages[:1], messages[1:]
        cut = _cut_index(rest, self.keep_turns)
        head, tail = rest[:cut], rest[cut:]
        if not any(m.role == "assistant" for m in head):
            if reason == "manual":
                self.emit(ev.Notice("info", "nothing to compact yet"))
            return messages
        before = self.tokens(messages)
        # The latest instruction stays verbatim: in the tail, or copied into the summary.
        latest = None if any(m.role == "user" for m in tail) else _latest_instruction(head)
        try:
            summary = self._summarise(head, latest)
        except AmaError as e:
            self.emit(ev.Notice("warning", f"could not compact the conversation: {e.message}"))
            return messages
        from prompts import render
        first = Message("user", render("compacted.md", summary=summary, instruction=latest or "",
                                       plan=_last_plan(messages), files=self._files()).strip())
        new = [*system, first, *tail]
        after = estimate_tokens(new)
        self._measured = None  # the provider's figure described the old conversation
        self.emit(ev.Compacted(summary, tuple(m.to_dict() for m in new[1:]), before, after))
        self.emit(ev.Notice("info", f"conversation compacted ({reason}): ~{before:,} -> "
                                    f"~{after:,} tokens"))
        return new

    # ---- summarising -----------------------------------------------------------------

    def _summarise(self, head: list[Message], latest: str | None) -> str:
        from prompts import render
        budget = int(self.context_window * TRANSCRIPT_SHARE) * 4
        prompt = render("compact.md", transcript=transcript(head, budget), instruction=latest or "")
        text: list[str] = []
        stream = self.model.stream([Message("user", prompt)], [], self.settings)
        try:
            for event in stream:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, Usage):
                    self.spent = self.spent + event
        finally:
            stream.close()
        summary = "".join(text).strip()
        if not summary:
            raise AmaError("the model returned an empty summary")
        return summary

    def _files(self) -> list[str]:
        if self.changed_files is None:
            return []
        try:
            return list(self.changed_files())
        except Exception:  # the list is a courtesy; a broken workspace must not stop the run
            return []


def _cut_index(rest: list[Message], keep_turns: int) -> int:
    """Where the verbatim tail starts: at the `keep_turns`-th last assistant message (so
    the tail never starts with a tool result)."""
    starts = [i for i, m in enumerate(rest) if m.role == "assistant"]
    if keep_turns <= 0:
        return len(rest)
    if len(starts) <= keep_turns:
        return 0
    return starts[-keep_turns]


def _latest_instruction(head: list[Message]) -> str | None:
    return next((m.content for m in reversed(head) if m.role == "user"), None)


def _last_plan(messages: list[Message]) -> list[dict[str, Any]]:
    for m in reversed(messages):
        for c in reversed(m.tool_calls):
            if c.name == "todo_write" and isinstance(c.arguments.get("items"), list):
                return [i for i in c.arguments["items"] if isinstance(i, dict)]
    return []


def transcript(messages: list[Message], max_chars: int) -> str:
    """The messages as plain text for the summariser; long tool output is cut, and the
    oldest lines go first when the whole would not fit in `max_chars`."""
    lines = []
    for m in messages:
        if m.role == "user":
            lines.append(f"USER:\n{m.content}")
        elif m.role == "assistant":
            calls = "".join(f"\n[calls {c.name} {json.dumps(dict(c.arguments), ensure_ascii=False)[:500]}]"
                            for c in m.tool_calls)
            lines.append(f"ASSISTANT:\n{m.content}{calls}")
        elif m.role == "tool":
            out = m.content
            if len(out) > TOOL_OUTPUT_CHARS:
                out = out[:TOOL_OUTPUT_CHARS // 2] + "\n[… cut …]\n" + out[-TOOL_OUTPUT_CHARS // 2:]
            lines.append(f"TOOL RESULT ({m.name}{', error' if m.is_error else ''}):\n{out}")
    text = "\n\n".join(lines)
    return text if len(text) <= max_chars else "[… earliest part cut …]\n" + text[-max_chars:]


def compact_now(agent) -> bool:
    """For `/compact`: compact `agent`'s conversation in place. True when it changed."""
    compactor = getattr(agent, "compactor", None)
    if compactor is None:
        return False
    new = compactor.compact(list(agent.messages), reason="manual")
    changed = new != agent.messages
    agent.messages[:] = new
    agent.usage = agent.usage + compactor.take_spent()
    return changed
