"""The headless progress lines on stderr: one per tool call and result, denials,
warnings and errors (the result itself goes to stdout). A subagent's lines are indented
under the `task` call that runs it."""
from __future__ import annotations

from typing import TextIO

from agent.core import events as ev
from agent.ui.hook_line import hook_line
from agent.ui.toolcalls import key_argument


def progress_printer(err: TextIO) -> ev.EventSink:
    """An EventSink writing compact progress lines for humans to `err`."""
    def emit(e: ev.Event) -> None:
        indent = "  " if e.parent_call_id else ""
        if isinstance(e, ev.ToolCallProposed):
            err.write(f"{indent}→ {e.name} {key_argument(e.name, e.arguments)[:100]}\n")
        elif isinstance(e, ev.ToolFinished):
            first = e.summary or (e.output.strip().splitlines() or [""])[0]
            failed = e.is_error or e.data.get("exit_code", 0) != 0
            err.write(f"{indent}  {'✗' if failed else '✓'} {first[:160]}\n")
        elif isinstance(e, ev.HookRan) and e.outcome != "ok":
            err.write(f"{indent}  ⚑ {hook_line(e)}\n")
        elif isinstance(e, ev.PermissionDenied):
            err.write(f"{indent}  ⊘ {e.name}: {e.reason}\n")
        elif isinstance(e, (ev.ErrorEvent, ev.Notice)):
            err.write(f"{indent}ama: {'subagent: ' if indent else ''}{e.message}\n")
        else:
            return
        err.flush()
    return emit
