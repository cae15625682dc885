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

    def compose(self, text: str) -> str:
        """The message the model gets: mentions attached, `!command` results, plan mode."""
        from prompts import render
        from agent.repl.mentions import attachments
        message = text
        files = attachments(text, self.session.workspace.tree)
        if files:
            message = render("mentions.md", message=message, files=files)
        if self.pending_context:
            message = render("pending_context.md", context=self.pending_context, message=message)
            self.pending_context = []
        if self.mode is Mode.PLAN:
            message = render("plan_mode.md", message=message)
        return message

    def send(self, text: str) -> RunResult:
        """Run one user message (marked for /rewind); the record of the run."""
        first = text.strip().splitlines()[0][:80] if text.strip() else ""
        self.marks.append(Mark(first, self.session.message_count, self.session.head()))
        return run_turn(self.session, text, self.compose)

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
