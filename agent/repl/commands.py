"""Slash commands. Each `cmd_NAME` method is `/NAME`; its docstring's first line is
its help (the rest is shown by `/help NAME`)."""
from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from agent.repl.app import Repl


class Commands:
    def __init__(self, repl: "Repl"):
        self.repl = repl
        self.console = repl.console

    @property
    def names(self) -> list[str]:
        return sorted(n[4:] for n in dir(self) if n.startswith("cmd_"))

    def run(self, line: str) -> str | None:
        """Dispatch `/name args`; returns "exit" to leave the REPL."""
        name, _, arg = line[1:].partition(" ")
        fn = getattr(self, f"cmd_{name}", None)
        if fn is None:
            close = difflib.get_close_matches(name, self.names, n=1)
            hint = f"; did you mean /{close[0]}?" if close else ""
            self.say(f"unknown command /{name}{hint} (/help lists them)", "yellow")
            return None
        try:
            return fn(arg.strip())
        except Exception as e:  # a failing command must not end the session
            self.say(f"/{name} failed: {type(e).__name__}: {e}", "red")
            return None

    def say(self, text: str, style: str = "") -> None:
        self.console.print(Text(text, style=style))

    # ---- conversation -------------------------------------------------------------

    def cmd_help(self, arg: str) -> None:
        """Show the commands, or `/help NAME` for one."""
        if arg:
            fn = getattr(self, f"cmd_{arg.lstrip('/')}", None)
            self.say(fn.__doc__.strip() if fn else f"no command /{arg}")
            return
        for name in self.names:
            doc = (getattr(self, f"cmd_{name}").__doc__ or "").strip().splitlines()[0]
            self.console.print(Text.assemble((f"/{name:<12}", "bold"), doc))
        self.say("!COMMAND runs a command in the sandbox; @path attaches a file. "
                 "Esc interrupts; Shift-Tab cycles review → auto-accept → plan.", "dim")

    def cmd_exit(self, arg: str) -> str:
        """Leave ama (pending changes are kept for `ama review`)."""
        return "exit"

    def cmd_clear(self, arg: str) -> None:
        """Start a fresh conversation (the workspace is kept)."""
        agent = self.repl.agent
        del agent.messages[1:]
        self.repl.marks.clear()
        self.say("conversation cleared", "dim")

    def cmd_compact(self, arg: str) -> None:
        """Summarize older turns now to free context (it also happens near the window)."""
        fn = _optional("agent.compaction", "compact_now")
        if fn is None:
            self.say("/compact is not available in this build", "yellow")
            return
        try:
            changed = self.repl.runner.run(lambda: fn(self.repl.agent))
        except Exception as e:  # the summarising call failed: the conversation is unchanged
            self.say(f"could not compact: {e}", "red")
            return
        self.repl.marks.clear()   # message positions changed: /rewind starts afresh
        self.say("conversation compacted" if changed else "nothing to compact yet", "dim")

    def cmd_model(self, arg: str) -> None:
        """Show the model, or switch: /model PROVIDER:NAME."""
        repl = self.repl
        if not arg:
            self.say(repl.opts.model)
            return
        from agent.errors import AmaError
        from agent.models.registry import resolve_model
        try:
            model = resolve_model(arg, {"cwd": str(repl.workspace.user_root),
                                        **repl.opts.model_options})
        except AmaError as e:
            self.say(f"cannot switch: {e.message}", "red")
            return
        repl.agent.model = model
        repl.opts.model = repl.status.model = arg
        repl.status.context_window = getattr(model, "context_window", 0)
        self.say(f"model: {arg}", "dim")

    def cmd_cost(self, arg: str) -> None:
        """Tokens and cost of this session."""
        u = self.repl.agent.usage
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
        cs = self.repl.workspace.change_set()
        if cs.empty:
            self.say("no pending changes", "dim")
            return
        items = split_change_set(cs)
        self.console.print(render_summary(items))
        self.console.print(render_items(items))

    def cmd_review(self, arg: str) -> None:
        """Review the pending changes hunk by hunk."""
        if self.repl.workspace.change_set().empty:
            self.say("nothing pending", "dim")
            return
        feedback = self.repl.review_pending()
        if feedback:
            self.repl.send(feedback)

    def cmd_undo(self, arg: str) -> None:
        """Put the workspace back to the previous checkpoint (files and shell side effects)."""
        repl = self.repl
        ws = repl.workspace
        current = ws.snapshot("undo-from")
        stack = repl.undo_stack
        while len(stack) > 1 and stack[-1] == current:
            stack.pop()
        target = stack[-1]
        if target == current:
            self.say("nothing to undo", "dim")
            return
        ws.restore(target)
        self.say(f"workspace restored to checkpoint {len(stack) - 1}"
                 if len(stack) > 1 else "workspace restored to the start of the session", "dim")
        self._hint_pending()

    def _hint_pending(self) -> None:
        """After a restore the scratch copy may differ from what the user accepted."""
        if not self.repl.workspace.change_set().empty:
            self.say("the workspace now differs from your files: /diff shows how; /review "
                     "applies it (e.g. to undo accepted changes in your files too)", "dim")

    def cmd_rewind(self, arg: str) -> None:
        """Go back to an earlier message: /rewind [N] restores the workspace and/or the conversation."""
        repl = self.repl
        if not repl.marks:
            self.say("no messages to rewind to", "dim")
            return
        if not arg:
            for n, mark in enumerate(repl.marks, 1):
                self.say(f"{n:>3}. {mark.text}")
            try:
                arg = repl.ask("rewind to before which message? (number, empty to cancel) ").strip()
            except (EOFError, KeyboardInterrupt):
                return
            if not arg:
                return
        try:
            mark = repl.marks[int(arg) - 1]
        except (ValueError, IndexError):
            self.say(f"pick a number from 1 to {len(repl.marks)}", "yellow")
            return
        try:
            what = repl.ask("restore [w]orkspace, [c]onversation or [b]oth? ").strip().lower() or "b"
        except (EOFError, KeyboardInterrupt):
            return
        if what[:1] in ("w", "b"):
            repl.workspace.restore(mark.tree)
            repl.undo_stack.append(mark.tree)
            self._hint_pending()
        if what[:1] in ("c", "b"):
            del repl.agent.messages[mark.message_index:]
            del repl.marks[int(arg) - 1:]
        self.say(f"rewound to before: {mark.text}", "dim")

    # ---- session and settings -----------------------------------------------------

    def cmd_resume(self, arg: str) -> None:
        """Load an earlier conversation of this repo: /resume [SESSION_ID] (lists them without)."""
        sessions = _optional("agent.sessions", "list_sessions")
        resume_into = _optional("agent.session_context", "resume_into")
        if sessions is None or resume_into is None:
            self.say("/resume is not available in this build; start `ama --resume ID`", "yellow")
            return
        repl = self.repl
        found = [s for s in sessions(repl.workspace.user_root) if s.id != repl.session_id]
        if not found:
            self.say("no earlier session in this repository", "dim")
            return
        if not arg:
            for n, info in enumerate(found[:20], 1):
                self.say(f"{n:>3}. {info.id}  {info.task.strip().splitlines()[0][:70] if info.task.strip() else ''}")
            try:
                arg = repl.ask("resume which? (number or id, empty to cancel) ").strip()
            except (EOFError, KeyboardInterrupt):
                return
            if not arg:
                return
        pick = found[int(arg) - 1] if arg.isdigit() and 0 < int(arg) <= len(found[:20]) else \
            next((s for s in found if s.id.startswith(arg)), None)
        if pick is None:
            self.say(f"no session {arg!r}", "yellow")
            return
        resume_into(repl.agent, pick.id, repl.agent.emit)
        repl.marks.clear()
        self.say(f"conversation of {pick.id} loaded; the workspace stays this session's "
                 f"(`ama --resume {pick.id}` also restores its workspace)", "dim")

    def cmd_permissions(self, arg: str) -> None:
        """Show the permission rules, or add one: /permissions allow|ask|deny RULE."""
        from agent.permissions import Rule

        def _show(r) -> str:
            return r.tool if r.pattern is None else f"{r.tool}({r.pattern})"
        perms = self.repl.agent.permissions
        if arg:
            kind, _, rule = arg.partition(" ")
            if kind not in ("allow", "ask", "deny") or not rule.strip():
                self.say("usage: /permissions allow|ask|deny TOOL(PATTERN)", "yellow")
                return
            try:
                getattr(perms, kind).append(Rule.parse(rule))
            except ValueError as e:
                self.say(str(e), "red")
                return
        self.say(f"mode: {perms.mode}")
        for kind in ("deny", "ask", "allow"):
            rules = getattr(perms, kind)
            self.say(f"{kind}: " + (", ".join(_show(r) for r in rules) if rules else "(none)"))

    def cmd_mode(self, arg: str) -> None:
        """Show or set the mode: review, auto-accept or plan (Shift-Tab cycles)."""
        from agent.repl.app import MODES
        if arg:
            if arg not in MODES:
                self.say(f"modes: {', '.join(MODES)}", "yellow")
                return
            self.repl.set_mode(arg)
        self.say(f"mode: {self.repl.mode}")

    def cmd_init(self, arg: str) -> None:
        """Have the model write an AGENTS.md from a look at the repo (it goes through review)."""
        fn = _optional("agent.init_memory", "init_instruction")
        if fn is None:
            self.say("/init is not available in this build", "yellow")
            return
        self.repl.send(fn(self.repl.workspace.tree))


def _optional(module: str, name: str):
    """A function from a module that may not exist in this build (None if missing)."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
