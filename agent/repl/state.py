"""The REPL's state in one object, changed only through named operations.

`ReplState` holds the open Session, the mode, the user messages sent so far (for
/rewind) and context waiting for the next message (`!command` output). Slash commands
and key bindings call its operations — send, clear, rewind, set the model or the
mode, compact, undo — and never touch the agent's fields; the session does the work
(agent/session/session.py). Nothing here prints or reads keys.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from agent.session.options import Mode
from agent.session.result import RunResult
from agent.session.run import run_turn
from agent.session.session import Session


@dataclass(frozen=True)
class Mark:
    """A user message in the conversation, for /rewind."""
    text: str                # its first line
    message_count: int       # the conversation's length before it was sent
    tree: str                # the workspace checkpoint at that moment


@dataclass
class ReplState:
    session: Session
    mode: Mode = Mode.REVIEW
    marks: list[Mark] = field(default_factory=list)
    pending_context: list[str] = field(default_factory=list)

    # ---- a turn ------------------------------------------------------------------------

    def compose(self, text: str, mentions: bool = True) -> str:
        """The message the model gets: mentions attached (`mentions`: the text is the
        user's own), `!command` results, plan mode. McpRequestError: an `@server:URI`
        could not be read (nothing was consumed)."""
        from prompts import render
        from agent.repl.mentions import attachments
        message = text
        if mentions:
            servers = self.mcp_connected()
            resources = self.resources_mentioned(text, servers)
            files = attachments(text, self.session.workspace.tree, servers)
            if files:
                message = render("mentions.md", message=message, files=files)
            if resources:
                message = render("mcp_resources.md", message=message, resources=resources)
        if self.pending_context:
            message = render("pending_context.md", context=self.pending_context, message=message)
            self.pending_context = []
        if self.mode is Mode.PLAN:
            message = render("plan_mode.md", message=message)
        return message

    def send(self, text: str, mentions: bool = True) -> RunResult:
        """Run one user message (marked for /rewind); the record of the run."""
        first = text.strip().splitlines()[0][:80] if text.strip() else ""

        def prepare(message: str) -> str:   # (a custom command's turn, once expanded)
            message = self.compose(message, mentions)   # before the mark: it may fail
            self.marks.append(Mark(first, self.session.message_count, self.session.head()))
            return message
        return run_turn(self.session, text, prepare)

    def add_context(self, text: str) -> None:
        """Context the next message carries (e.g. what a `!command` printed)."""
        self.pending_context.append(text)

    # ---- operations ----------------------------------------------------------------------

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.session.set_mode(mode)

    def cycle_mode(self) -> Mode:
        """Shift-Tab: review → auto-accept → plan → review."""
        self.set_mode(self.mode.next())
        return self.mode

    def set_model(self, spec: str) -> None:
        """Switch the model (AmaError: unchanged)."""
        self.session.set_model(spec)

    def clear(self) -> None:
        """A fresh conversation; the workspace is kept."""
        self.session.clear()
        self.marks.clear()

    def compact(self) -> bool:
        """Summarise older turns now; True when the conversation changed."""
        changed = self.session.compact()
        self.marks.clear()   # message positions changed: /rewind starts afresh
        return changed

    def forget_marks(self) -> None:
        """The conversation was replaced (compacted, or another session's loaded)."""
        self.marks.clear()

    def rewind(self, index: int, *, workspace: bool, conversation: bool) -> Mark:
        """Back to before the `index`-th message sent (0-based): the workspace's
        checkpoint then, the conversation then, or both. IndexError for no such message."""
        mark = self.marks[index]
        if workspace:
            self.session.restore(mark.tree)
        if conversation:
            self.session.rewind_conversation(mark.message_count)
            del self.marks[index:]
        return mark

    def undo(self) -> int | None:
        """Back one workspace checkpoint (see Session.undo)."""
        return self.session.undo()

    # ---- MCP servers (the session's hub) -----------------------------------------------

    def mcp_connected(self) -> list[str]:
        """The names of the MCP servers that connected."""
        return self.session.mcp.connected() if self.session.mcp is not None else []

    def mcp_list(self, server: str, kind: str, wait: bool = True) -> list:
        """`server`'s "resources" (ResourceInfo) or "prompts" (PromptInfo), asked for
        once and then kept (McpRequestError says why not; the session's `cancel` stops
        the asking). `wait=False` never asks: what was fetched so far, [] before (for
        completion)."""
        hub = self.session.mcp
        if hub is None:
            return []
        if not wait:
            return hub.listed(server, kind) or []
        ask = hub.resources if kind == "resources" else hub.prompts
        return ask(server, self.session.cancel)

    def prefetch_mcp(self) -> None:
        """Fetch every connected server's resources and prompts in the background, so
        that completion has them; failures are left for /mcp to report."""
        import threading
        from tools.mcp.resources import McpRequestError

        def fetch(server: str) -> None:
            for kind in ("resources", "prompts"):
                try:
                    self.mcp_list(server, kind)
                except McpRequestError:
                    pass
        for server in self.mcp_connected():
            threading.Thread(target=fetch, args=(server,), name=f"ama-mcp-list-{server}",
                             daemon=True).start()

    def mcp_overview(self) -> list[dict]:
        """Each MCP server for /mcp: {name, status, tools, withheld, error}, and for a connected
        one {resources, prompts}: what it offers (None where listing them failed, `error`
        then says why)."""
        from tools.mcp.resources import McpRequestError
        rows = []
        for row in self.session.mcp_servers:
            info = dict(row)
            if row["status"] == "connected":
                for kind in ("resources", "prompts"):
                    try:
                        info[kind] = self.mcp_list(row["name"], kind)
                    except McpRequestError as e:
                        info[kind], info["error"] = None, str(e)
            rows.append(info)
        return rows

    def resources_mentioned(self, text: str, servers: list[str]) -> list[dict[str, str]]:
        """[{server, uri, text}] for each content item of each `@server:URI` in `text`."""
        from agent.repl.mentions import find_resource_mentions
        out = []
        for server, uri in find_resource_mentions(text, servers):
            items = self.session.mcp_resource(server, uri)
            out += [{"server": server, "uri": item.uri, "text": item.text} for item in items] \
                or [{"server": server, "uri": uri, "text": "(the server sent no content)"}]
        return out
