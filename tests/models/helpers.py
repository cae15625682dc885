"""Small helpers for the provider tests: fast retry options, tool specs, collecting events."""
from __future__ import annotations

from typing import Any, Iterable

from agent.core.types import (Done, ModelEvent, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallDone,
                         ToolSpec, Usage)

# Retries in tests wait milliseconds, never seconds.
FAST = {"api_key": "test-key", "max_retries": 3, "retry_base_delay": 0.01,
        "retry_max_delay": 0.05, "timeout": 5.0}

WRITE_FILE = ToolSpec("write_file", "Write a file.", {
    "type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
    "required": ["path", "content"]})
READ_FILE = ToolSpec("read_file", "Read a file.", {
    "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})


def collect(events: Iterable[ModelEvent]) -> dict[str, Any]:
    """Group a turn's events: text, thinking, calls (ToolCall by index), usage list, done, all."""
    out: dict[str, Any] = {"text": "", "thinking": "", "calls": {}, "deltas": [], "usage": [],
                           "done": None, "all": []}
    for ev in events:
        out["all"].append(ev)
        if isinstance(ev, TextDelta):
            out["text"] += ev.text
        elif isinstance(ev, ThinkingDelta):
            out["thinking"] += ev.text
        elif isinstance(ev, ToolCallDelta):
            out["deltas"].append(ev)
        elif isinstance(ev, ToolCallDone):
            out["calls"][ev.index] = ev.call
        elif isinstance(ev, Usage):
            out["usage"].append(ev)
        elif isinstance(ev, Done):
            out["done"] = ev
    return out
