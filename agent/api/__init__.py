"""The Python API: ama embedded in a program.

    from agent.api import Finished, Text, ToolUse, open_session

    def approve(call: ToolUse, reason: str) -> bool:       # answers "ask" rules
        return call.name != "shell" or str(call.arguments.get("command")).startswith("pytest")

    with open_session("path/to/repo", model="anthropic:claude-sonnet-4-6",
                      verify="pytest -q", approve=approve) as session:
        for event in session.stream("the tests fail; fix the bug"):
            if isinstance(event, Text):
                print(event.text, end="")
            elif isinstance(event, Finished):
                result = event.result
        print(result.subtype, result.changes.paths)
        if result.subtype == "success":
            session.apply()                                  # into your working tree
        else:
            session.discard()

`open_session` takes the CLI's flags as keywords (same names, same meaning, settled
with the config layers); `run(task)` returns a Result, `stream(task)` and
`async for ... in astream(task)` yield typed events ending in Finished(result);
`apply()` / `discard()` take the pending change set into your tree or out of the
scratch copy. Every public signature is fully typed, with no `Any`; JSON from the
model is `object`. examples/api_basic.py and examples/api_async.py run offline.
"""
from __future__ import annotations

from agent.api.events import (Approval, ChangesReady, Denied, Error, Event, Finished, Notice,
                              Other, Text, Thinking, ToolResult, ToolUse, TurnEnded, TurnStarted,
                              UsageUpdate, Verified)
from agent.api.records import (Applied, Changes, Denial, FileChange, Result, Usage,
                               Verification)
from agent.api.session import Approver, Session, open_session

__all__ = ["open_session", "Session", "Approver", "Result", "Changes", "FileChange", "Usage",
           "Verification", "Denial", "Applied", "Event", "Text", "Thinking", "ToolUse",
           "Approval", "Denied", "ToolResult", "TurnStarted", "TurnEnded", "UsageUpdate",
           "ChangesReady", "Verified", "Notice", "Error", "Other", "Finished"]
