"""Slash commands. Each `cmd_NAME` method is `/NAME`; its docstring's first line is
its help (the rest is shown by `/help NAME`). They act on the REPL's state through its
named operations (agent/repl/state.py) and talk to the user through the REPL. The MCP
servers' prompts are commands too, `/mcp__<server>__<prompt>` (agent/repl/mcp_commands.py)."""
from __future__ import annotations

import difflib
import functools
from typing import Any, Protocol

from rich.console import Console
from rich.text import Text

from agent.core.errors import AmaError
from agent.repl.mcp_commands import McpCommands
from agent.repl.state import ReplState
from agent.session.options import Mode


class Host(Protocol):
    """What the commands need from the REPL around them (agent/repl/app.py)."""
    console: Console
    state: ReplState
    view: Any                    # the TurnView: `outputs` of the tool calls so far
    runner: Any                  # the TurnRunner: `run(work)` with interrupt keys

    def ask(self, message: str) -> str: ...
    def send(self, text: str, mentions: bool = True) -> None: ...
    def review_pending(self, auto: bool = False) -> str: ...
    def set_mode(self, mode: Mode) -> None: ...
    def set_model(self, spec: str) -> None: ...


class Commands:
    def __init__(self, repl: Host):
        self.repl = repl
        self.console = repl.console
        self.state = repl.state
        self.mcp = McpCommands(repl)

    @property
    def names(self) -> list[str]:
        return sorted(n[4:] for n in dir(self) if n.startswith("cmd_"))

    def completion_names(self) -> list[str]:
        """Every command for Tab: these, and the MCP prompts fetched so far."""
        return [*self.names, *self.custom, *self.mcp.prompt_commands(wait=False)[0]]

    def run(self, line: str) -> str | None:
        """Dispatch `/name args`; returns "exit" to leave the REPL."""
        name, _, arg = line[1:].partition(" ")
        fn = getattr(self, f"cmd_{name}", None)
        if fn is None and name.startswith("mcp__"):
            fn = functools.partial(self.mcp.run, name)
        if fn is None and name in self.custom:
            self.repl.send(line)     # the session expands it (agent/session/run.py: run_turn)
            return None
        if fn is None:
            close = difflib.get_close_matches(name, [*self.names, *self.custom], n=1)
            hint = f"; did you mean /{close[0]}?" if close else ""
            self.say(f"unknown command /{name}{hint} (/help lists them)", "yellow")
            return None
        try:
            return fn(arg.strip())
        except Exception as e:  # a failing command must not end the session
            self.say(f"/{name} failed: {type(e).__name__}: {e}", "red")
            return None

    @property
    def custom(self) -> dict:
        """The custom commands (files in .ama/commands/ and the like), built-ins first."""
        return {n: c for n, c in self.state.session.options.commands.items()
                if not hasattr(self, f"cmd_{n}")}

    def say(self, text: str, style: str = "") -> None:
        self.console.print(Text(text, style=style))

    # ---- conversation -------------------------------------------------------------

    def cmd_help(self, arg: str) -> None:
        """Show the commands, or `/help NAME` for one."""
        if arg:
            name = arg.lstrip("/")
            fn = getattr(self, f"cmd_{name}", None)
            if fn is None and name.startswith("mcp__") and self.mcp.describe(name):
                return
            custom = self.custom.get(name)
            if fn is None and custom is not None:
                self.say(f"{custom.description} ({custom.scope}: {custom.path})")
                return
            self.say(fn.__doc__.strip() if fn else f"no command /{arg}")
            return
        for name in self.names:
            doc = (getattr(self, f"cmd_{name}").__doc__ or "").strip().splitlines()[0]
            self.console.print(Text.assemble((f"/{name:<12}", "bold"), doc))
        for name, c in sorted(self.custom.items()):
            hint = f" {c.argument_hint}" if c.argument_hint else ""
            self.console.print(Text.assemble((f"/{name}{hint}".ljust(13), "bold"),
                                             f"{c.description} ({c.scope})"))
        self.mcp.help()
        self.say("!COMMAND runs a command in the sandbox; @path attaches a file, "
                 "@server:URI an MCP server's resource. "
                 "Esc interrupts; Shift-Tab cycles review → auto-accept → plan.", "dim")

    def cmd_exit(self, arg: str) -> str:
        """Leave ama (pending changes are kept for `ama review`)."""
        return "exit"

    def cmd_clear(self, arg: str) -> None:
        """Start a fresh conversation (the workspace is kept)."""
        self.state.clear()
        self.say("conversation cleared", "dim")

    def cmd_compact(self, arg: str) -> None:
        """Summarize older turns now to free context (it also happens near the window)."""
        try:
            changed = self.repl.runner.run(self.state.compact)
        except Exception as e:  # the summarising call failed: the conversation is unchanged
            self.say(f"could not compact: {e}", "red")
            return
        self.say("conversation compacted" if changed else "nothing to compact yet", "dim")

    def cmd_model(self, arg: str) -> None:
        """Show the model, or switch: /model PROVIDER:NAME."""
        if not arg:
            self.say(self.state.session.model)
            return
        try:
            self.repl.set_model(arg)
        except AmaError as e:
            self.say(f"cannot switch: {e.message}", "red")
            return
        self.say(f"model: {arg}", "dim")

    def cmd_cost(self, arg: str) -> None:
        """Tokens and cost of this session."""
        u = self.state.session.agent.usage
        self.say(f"input {u.input_tokens} tok (cache read {u.cache_read_tokens}, write "
                 f"{u.cache_write_tokens}) · output {u.output_tokens} tok · ${u.cost_usd:.4f}")

    def cmd_expand(self, arg: str) -> None:
        """Show a tool call's whole output: /expand N (default: the last)."""
        outputs = self.repl.view.outputs
        if not outputs:
            self.say("no tool output yet", "dim")
            return
        try:
            n = int(arg) if arg else len(outputs)
            self.console.print(Text(outputs[n - 1]))
        except (ValueError, IndexError):
            self.say(f"/expand N with N from 1 to {len(outputs)}", "yellow")

    # ---- changes ------------------------------------------------------------------

    def cmd_diff(self, arg: str) -> None:
        """Show the pending change set (what is not yet accepted or rejected)."""
        from agent.ui.diff import render_items, render_summary
        from tools.workspace.review import split_change_set
        cs = self.state.session.workspace.change_set()
        if cs.empty:
            self.say("no pending changes", "dim")
            return
        items = split_change_set(cs)
        self.console.print(render_summary(items))
        self.console.print(render_items(items))

    def cmd_review(self, arg: str) -> None:
        """Review the pending changes hunk by hunk."""
        if self.state.session.workspace.change_set().empty:
            self.say("nothing pending", "dim")
            return
        feedback = self.repl.review_pending()
        if feedback:
            self.repl.send(feedback)

    def cmd_undo(self, arg: str) -> None:
        """Put the workspace back to the previous checkpoint (files and shell side effects)."""
        left = self.state.undo()
        if left is None:
            self.say("nothing to undo", "dim")
            return
        self.say(f"workspace restored to checkpoint {left}" if left
                 else "workspace restored to the start of the session", "dim")
        self._hint_pending()

    def _hint_pending(self) -> None:
        """After a restore the scratch copy may differ from what the user accepted."""
        if not self.state.session.workspace.change_set().empty:
            self.say("the workspace now differs from your files: /diff shows how; /review "
                     "applies it (e.g. to undo accepted changes in your files too)", "dim")

    def cmd_rewind(self, arg: str) -> None:
        """Go back to an earlier message: /rewind [N] restores the workspace and/or the conversation."""
        marks = self.state.marks
        if not marks:
            self.say("no messages to rewind to", "dim")
            return
        if not arg:
            for n, mark in enumerate(marks, 1):
                self.say(f"{n:>3}. {mark.text}")
            try:
                arg = self.repl.ask("rewind to before which message? (number, empty to cancel) ").strip()
            except (EOFError, KeyboardInterrupt):
                return
            if not arg:
                return
        if not arg.isdigit() or not 0 < int(arg) <= len(marks):
            self.say(f"pick a number from 1 to {len(marks)}", "yellow")
            return
        try:
            what = self.repl.ask("restore [w]orkspace, [c]onversation or [b]oth? ").strip().lower() or "b"
        except (EOFError, KeyboardInterrupt):
            return
        mark = self.state.rewind(int(arg) - 1, workspace=what[:1] in ("w", "b"),
                                 conversation=what[:1] in ("c", "b"))
        if what[:1] in ("w", "b"):
            self._hint_pending()
        self.say(f"rewound to before: {mark.text}", "dim")

    # ---- session and settings -----------------------------------------------------

    def cmd_resume(self, arg: str) -> None:
        """Load an earlier conversation of this repo: /resume [SESSION_ID] (lists them without)."""
        from agent.session.store import list_sessions
        session = self.state.session
        found = [s for s in list_sessions(session.workspace.user_root) if s.id != session.id]
        if not found:
            self.say("no earlier session in this repository", "dim")
            return
        if not arg:
            for n, info in enumerate(found[:20], 1):
                self.say(f"{n:>3}. {info.id}  {info.task.strip().splitlines()[0][:70] if info.task.strip() else ''}")
            try:
                arg = self.repl.ask("resume which? (number or id, empty to cancel) ").strip()
            except (EOFError, KeyboardInterrupt):
                return
            if not arg:
                return
        pick = found[int(arg) - 1] if arg.isdigit() and 0 < int(arg) <= len(found[:20]) else \
            next((s for s in found if s.id.startswith(arg)), None)
        if pick is None:
            self.say(f"no session {arg!r}", "yellow")
            return
        count = session.load_conversation(pick.id)
        self.state.forget_marks()
        self.say(f"conversation of {pick.id} loaded ({count} messages); the workspace stays this session's "
                 f"(`ama --resume {pick.id}` also restores its workspace)", "dim")

    def cmd_permissions(self, arg: str) -> None:
        """Show the permission rules, or add one: /permissions allow|ask|deny RULE."""
        perms = self.state.session.agent.permissions
        if arg:
            kind, _, rule = arg.partition(" ")
            if kind not in ("allow", "ask", "deny") or not rule.strip():
                self.say("usage: /permissions allow|ask|deny TOOL(PATTERN)", "yellow")
                return
            try:
                self.state.session.add_rule(kind, rule)
            except ValueError as e:
                self.say(str(e), "red")
                return
        self.say(f"mode: {perms.mode}")
        for kind in ("deny", "ask", "allow"):
            rules = getattr(perms, kind)
            self.say(f"{kind}: " + (", ".join(str(r) for r in rules) if rules else "(none)"))

    def cmd_mode(self, arg: str) -> None:
        """Show or set the mode: review, auto-accept or plan (Shift-Tab cycles)."""
        if arg:
            if arg not in [m.value for m in Mode]:
                self.say(f"modes: {', '.join(m.value for m in Mode)}", "yellow")
                return
            self.repl.set_mode(Mode(arg))
        self.say(f"mode: {self.state.mode.value}")

    def cmd_mcp(self, arg: str) -> None:
        """List the MCP servers: status, tools, resources and prompts.

        `@server:URI` in a message attaches a server's resource; `/mcp__server__prompt ARGS`
        sends a server's prompt (`/help mcp__server__prompt` shows its arguments)."""
        self.mcp.show()

    def cmd_init(self, arg: str) -> None:
        """Have the model write an AGENTS.md from a look at the repo (it goes through review)."""
        from agent.session.memory import init_instruction
        self.repl.send(init_instruction(self.state.session.workspace.tree))
