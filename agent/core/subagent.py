"""What the loop knows of subagents: `AgentTool`, a tool that works through the agent
that calls it (the `task` tool, agent/session/subagent.py, runs a child `Agent` made
with `Agent.spawn`), and `nested`, the sink a child's events go through to its parent's.
"""
from __future__ import annotations

import threading
from typing import Any, ClassVar

from agent.core import events as ev
from agent.core.types import ToolCall
from tools.base import BaseTool, ToolContext, ToolError, ToolResult


class AgentTool(BaseTool):
    """A tool that works through the agent that calls it. The loop calls
    `run_for(agent, call, args)` instead of `run`, so the tool has the call's id (its
    child's events carry it) and the calling `Agent` (whose budget a child shares).
    `concurrent`: its non-mutating calls may run side by side with their neighbours'."""
    concurrent: ClassVar[bool] = False

    def run_for(self, agent: Any, call: ToolCall, args: Any) -> ToolResult:
        raise NotImplementedError

    def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        raise ToolError(f"{self.name} runs only inside an agent's loop")


def nested(emit: ev.EventSink, call_id: str, lock: threading.RLock) -> ev.EventSink:
    """The sink of the child that call `call_id` runs: each event tagged with the call's
    id (a deeper child's keeps its own) and handed to the parent's `emit`, one at a time
    (`lock`: children running side by side share the parent's sink)."""
    def emit_child(event: ev.Event) -> None:
        with lock:
            emit(event.nested_in(call_id))
    return emit_child
