"""An open session, and the named operations a front end performs on it.

A front end (the REPL, `ama -p`, an editor protocol server, a program embedding ama)
never edits the agent's fields: it runs tasks (`agent/session/run.py`) and calls these
operations — interrupt, set the model or the mode, clear, compact, rewind, undo, allow
a rule, load another session's conversation — the way Codex's UI sends operations to
its core. Each changes the session in one place and says what it did.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from agent.core import events as ev
from agent.core.loop import Agent
from agent.core.types import ToolCall
from agent.session.options import Mode, SessionOptions

if TYPE_CHECKING:
    from agent.extensions.commands import Expansion
    from tools.mcp.hub import McpHub
    from tools.mcp.resources import ResourceText
    from tools.sandbox.base import Sandbox
    from tools.workspace.scratch import Workspace


COMMAND_SHELL_TIMEOUT = 60.0   # seconds one `!`cmd`` of a custom command may run


@dataclass
class Session:
    """id: the session id (its log is AMA_HOME/sessions/<id>.jsonl, written by the sink
    the front end passed). model: the PROVIDER:MODEL in use now (`set_model` changes it)."""
    id: str
    options: SessionOptions
    agent: Agent
    workspace: "Workspace"
    sandbox: "Sandbox"
    emit: ev.EventSink
    cancel: threading.Event
    model: str = ""
    mcp: "McpHub | None" = None                       # the MCP servers' connections
    mcp_servers: tuple[dict, ...] = ()                # {name, status, tools} of each server
    _closed: bool = field(default=False, repr=False)

    # ---- the run -----------------------------------------------------------------------

    def start(self, source: str = "startup") -> None:
        """Fire SessionStart hooks (`source`: startup | resume | clear); the context they
        add goes to the model with the next instruction."""
        self.agent.add_context("SessionStart", self.agent.hook(
            "SessionStart", source, interruptible=False, source=source).context)

    def interrupt(self) -> None:
        """Stop the running task at its next step (a running command is killed)."""
        self.cancel.set()

    # ---- custom commands -------------------------------------------------------------

    def command_turn(self, text: str) -> "Expansion | None":
        """`text` ("/name args") as the turn of the custom command it names, its `!`cmd``
        lines run in the sandbox now; None when it names no custom command."""
        from agent.extensions.commands import expand, parse_invocation
        hit = parse_invocation(text, self.options.commands)
        if hit is None:
            return None
        command, args = hit
        return expand(command, args, self._command_shell)

    def _command_shell(self, line: str) -> str:
        result = self.sandbox.exec(line, timeout=COMMAND_SHELL_TIMEOUT, cancel=self.cancel)
        note = "" if result.exit_code == 0 else f"\n(exit status {result.exit_code})"
        return result.output.rstrip("\n") + note

    @contextmanager
    def command_overrides(self, expansion: "Expansion") -> Iterator[None]:
        """For one turn: the command's `allowed-tools` allowed, its `model` in use."""
        from agent.core.permissions import Rule
        rules = [Rule.parse(r) for r in expansion.allow]
        granted = self.agent.permissions.granted
        before = self.model
        if expansion.model and expansion.model != before:
            self.set_model(expansion.model)
        granted.extend(rules)
        try:
            yield
        finally:
            for rule in rules:
                granted.remove(rule)
            if self.model != before:
                self.set_model(before)

    # ---- settings ------------------------------------------------------------------------

    def set_model(self, spec: str) -> None:
        """Switch the model for the next turns. AmaError (nothing changed) if it cannot be
        resolved."""
        from agent.config.load import model_options
        from agent.models.registry import resolve_model
        cfg = self.options.config
        extra = model_options(cfg, spec) if cfg is not None else dict(self.options.model_options)
        model = resolve_model(spec, {"cwd": str(self.workspace.user_root), **extra})
        self.agent.model = model
        if self.agent.compactor is not None:
            self.agent.compactor.model = model
            self.agent.compactor.context_window = context_window(self.options, model)
        self.model = spec

    def set_mode(self, mode: Mode) -> None:
        """Plan mode refuses mutating tools; review and auto-accept differ only in what
        the front end does with a turn's changes."""
        self.agent.permissions.mode = "plan" if mode is Mode.PLAN else self.options.permission_mode

    def add_rule(self, kind: str, rule: str) -> None:
        """Add a permission rule (`allow`, `ask` or `deny`) for this session. ValueError
        names a malformed rule or kind."""
        from agent.core.permissions import Rule
        if kind not in ("allow", "ask", "deny"):
            raise ValueError(f"no rule kind {kind!r}: choose allow, ask or deny")
        getattr(self.agent.permissions, kind).append(Rule.parse(rule))

    def always_allow(self, call: ToolCall) -> list[str]:
        """The "always allow" answer to an approval: the call generalised into rules,
        allowed for the rest of this session and saved for this repository."""
        from agent.config.trust import always_allow
        return always_allow(self.agent.permissions, self.workspace.user_root, call.name,
                            call.arguments)

    # ---- the conversation ---------------------------------------------------------------

    @property
    def message_count(self) -> int:
        return len(self.agent.messages)

    def clear(self) -> None:
        """Start a fresh conversation; the workspace is kept. Hooks see the old one end
        (SessionEnd, reason "clear") and a new one start (SessionStart, source "clear")."""
        self.agent.hook("SessionEnd", "clear", interruptible=False, reason="clear")
        del self.agent.messages[1:]
        self.start("clear")

    def compact(self) -> bool:
        """Summarise older turns now. True when the conversation changed."""
        from agent.core.compaction import compact_now
        self.agent.hook("PreCompact", "manual", interruptible=False, trigger="manual",
                        custom_instructions="")
        return compact_now(self.agent)

    def rewind_conversation(self, message_count: int) -> None:
        """Drop every message after the first `message_count` (the system prompt stays)."""
        del self.agent.messages[max(1, message_count):]

    def load_conversation(self, session_id: str) -> int:
        """Put an earlier session's conversation after the system prompt; the workspace
        stays this session's. Returns the number of messages loaded."""
        from agent.session.store import load_messages
        earlier = load_messages(session_id)
        self.agent.messages[1:] = earlier
        return len(earlier)

    # ---- MCP resources and prompts ------------------------------------------------------

    def mcp_resource(self, server: str, uri: str) -> list["ResourceText"]:
        """The contents of MCP server `server`'s resource `uri` (for `@server:URI`): text
        as text, binary content as a note. `cancel` stops the read; McpRequestError says
        why it could not be read."""
        return self._mcp_hub().read_resource(server, uri, self.cancel)

    def mcp_prompt(self, server: str, prompt: str, arguments: dict[str, str]) -> str:
        """The text of MCP server `server`'s prompt `prompt` with `arguments` (for
        `/mcp__server__prompt`), to send as a user message. McpRequestError as above."""
        return self._mcp_hub().get_prompt(server, prompt, arguments, self.cancel)

    def _mcp_hub(self) -> "McpHub":
        if self.mcp is None:
            from tools.mcp.resources import McpRequestError
            raise McpRequestError("this session has no MCP servers")
        return self.mcp

    # ---- the workspace ------------------------------------------------------------------

    def head(self) -> str:
        """The workspace's latest checkpoint (what `restore` can come back to)."""
        return self.workspace.head()

    def record(self, label: str) -> str:
        """Checkpoint the scratch tree after something outside the loop changed it
        (a review applied, a `!command`)."""
        return self.workspace.snapshot(label)

    def restore(self, tree: str) -> None:
        """Put the scratch tree back to checkpoint `tree`; `undo` comes back from it."""
        self.workspace.rewind(tree)

    def undo(self) -> int | None:
        """Back to the checkpoint before the current state (files and shell side effects).
        Returns the checkpoints left (0: the start of the session), None if nothing to undo."""
        return self.workspace.undo()

    def close(self, keep_workspace: bool = False) -> None:
        """Stop the sandbox; remove the scratch copy unless it is kept (changes pending,
        or `keep_workspace`)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._end_hooks()
            if self.mcp is not None:
                self.mcp.close()
        finally:
            self._close_sandbox(keep_workspace)

    def _end_hooks(self) -> None:
        """SessionEnd hooks; nothing they do (or a sink closed before us) stops the close."""
        try:
            self.agent.hook("SessionEnd", "other", interruptible=False, reason="other")
        except Exception as e:
            try:
                self.emit(ev.Notice("warning", f"SessionEnd hooks: {type(e).__name__}: {e}"))
            except Exception:   # the sink itself is closed (e.g. a finished attempt's log)
                pass

    def _close_sandbox(self, keep_workspace: bool) -> None:
        try:
            self.sandbox.close()
        finally:
            if not (keep_workspace or self.options.keep_workspace):
                self.workspace.cleanup()


def context_window(options: SessionOptions, model) -> int:
    """The window compaction works against: config, else the model's, else 128k."""
    return int(options.context_window or getattr(model, "context_window", 0) or 128_000)
