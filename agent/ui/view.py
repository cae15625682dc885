"""The event consumer that draws a turn: streamed Markdown, tool calls, the plan,
notices and errors; a subagent's tool calls, results, hooks and errors indented under the
`task` call that runs it (its text is not streamed: its answer is the call's result).
Called from the turn's worker thread (a subagent's events, from its own); it only prints.
"""
from __future__ import annotations

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.text import Text

from agent.core import events as ev
from agent.ui.hook_line import render_hook
from agent.ui.markdown_stream import MarkdownStream
from agent.ui.plan import render_plan
from agent.ui.status import Status
from agent.ui.toolcalls import OneLine, render_call, render_result


class TurnView:
    """An EventSink. `outputs` keeps every full tool output for /expand; `status` is
    kept current from usage events; `phase` says what the spinner line shows."""

    def __init__(self, console: Console, status: Status):
        self.console = console
        self.status = status
        self.md = MarkdownStream(console)
        self.outputs: list[str] = []
        self._tasks: dict[str, str] = {}   # task calls running: call id -> description
        self.phase = "waiting for the model"

    @property
    def partial(self) -> str:
        return self.md.partial

    def __call__(self, e: ev.Event) -> None:
        if e.parent_call_id:
            self._nested(e)
        elif isinstance(e, ev.TextDelta):
            self.phase = "writing"
            self.md.feed(e.text)
        elif isinstance(e, ev.TurnStarted):
            self.phase = "waiting for the model"
            self._tasks.clear()   # none runs between turns (one cut short never finished)
        elif isinstance(e, ev.AssistantMessage):
            self.md.finish()
        elif isinstance(e, ev.ToolCallProposed):
            self.md.finish()
            self.phase = f"running {e.name}"
            if e.name == "task":
                self._tasks[e.call_id] = str(e.arguments.get("description", ""))
            if e.name != "todo_write":
                self.console.print(render_call(e.name, e.arguments))
        elif isinstance(e, ev.ToolFinished):
            self.phase = "waiting for the model"
            self._tasks.pop(e.call_id, None)
            if e.name == "todo_write" and not e.is_error and "todos" in e.data:
                self.console.print(render_plan(e.data["todos"]))
                return
            self.outputs.append(e.output)
            self.console.print(render_result(e.output, e.is_error, e.summary, e.data,
                                             index=len(self.outputs)))
        elif isinstance(e, ev.ApprovalRequested):
            self.md.finish()
        elif isinstance(e, ev.HookRan):
            self.md.finish()
            self.console.print(render_hook(e))
        elif isinstance(e, ev.PermissionDenied):
            self.console.print(Text(f"  ⊘ {e.name}: {e.reason}", style="yellow"))
        elif isinstance(e, ev.UsageEvent):
            self.status.context_tokens = int(e.usage.get("input_tokens", 0)) + \
                int(e.usage.get("cache_read_tokens", 0)) + int(e.usage.get("output_tokens", 0))
            self.status.total_tokens = int(e.total.get("input_tokens", 0)) + \
                int(e.total.get("output_tokens", 0))
            self.status.cost_usd = float(e.total.get("cost_usd", 0.0))
        elif isinstance(e, ev.Notice):
            self.console.print(Text(f"{e.message}", style="yellow" if e.level == "warning" else "dim"))
        elif isinstance(e, ev.ErrorEvent):
            self.md.finish()
            if e.subtype == "error_interrupted":
                self.console.print(Text("⏹ interrupted", style="yellow"))
            else:
                self.console.print(Text(f"error: {e.message}", style="bold red"))
        elif e.type == "compacted":
            self.console.print(Text(f"context compacted: {getattr(e, 'tokens_before', 0)} → "
                                    f"{getattr(e, 'tokens_after', 0)} tokens", style="dim"))
        elif isinstance(e, ev.VerificationFinished):
            self.console.print(Text(f"verify `{e.command}`: {'passed' if e.passed else 'failed'}",
                                    style="green" if e.passed else "red"))

    def _nested(self, e: ev.Event) -> None:
        """A subagent's event: what it calls and what came of it, a line each, indented;
        while several subagents run, each line starts with its task's description."""
        label = Text(f"{self._tasks[e.parent_call_id]}: " if len(self._tasks) > 1 and
                     e.parent_call_id in self._tasks else "", style="dim")
        if isinstance(e, ev.ToolCallProposed):
            self.phase = f"subagent: running {e.name}"
            self._indented(OneLine(label + render_call(e.name, e.arguments).text))
        elif isinstance(e, ev.ToolFinished):
            head = render_result(e.output, e.is_error, e.summary, e.data).split("\n")[0]
            self._indented(label + head)
        elif isinstance(e, ev.HookRan):
            self._indented(label + render_hook(e))
        elif isinstance(e, ev.PermissionDenied):
            self._indented(label + Text(f"  ⊘ {e.name}: {e.reason}", style="yellow"))
        elif isinstance(e, ev.Notice) or (isinstance(e, ev.ErrorEvent)
                                          and e.subtype != "error_interrupted"):
            self._indented(label + Text(f"subagent: {e.message}", style="yellow"))

    def _indented(self, line: RenderableType) -> None:
        self.console.print(Padding(line, (0, 0, 0, 4), expand=False))
