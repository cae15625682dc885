"""One ama session as an editor sees it: the Session, its log, its mode, and the link
to the editor. Everything here blocks; the server calls it from worker threads.

    open      settle → open_session (a new session, or ama's session `resume`d)
    turn      the prompt through run_turn, its events streamed as updates, "ask" rules
              answered by permission requests, then the change set reviewed in the
              editor (review mode) or applied (auto-accept); → the RunResult
    history   the conversation as updates, for session/load
    set_mode, set_model, interrupt, close
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from acp import (start_tool_call, text_block, tool_content, update_agent_message_text,
                 update_agent_thought_text, update_tool_call, update_user_message_text)
from acp.schema import PermissionOption, ToolCallUpdate

from agent.acp.channel import ClientLink
from agent.acp.review import EditorReview, summary
from agent.acp.updates import TurnUpdates, tool_kind, tool_title
from agent.core import events as ev
from agent.core.types import ToolCall
from agent.session.log import SessionLog
from agent.session.open import open_session
from agent.session.options import Mode, SessionOptions
from agent.session.result import RunResult
from agent.session.run import run_turn

log = logging.getLogger("ama.acp")
APPROVAL = [PermissionOption(option_id="allow_once", name="Allow", kind="allow_once"),
            PermissionOption(option_id="allow_always", name="Always allow", kind="allow_always"),
            PermissionOption(option_id="reject", name="Reject", kind="reject_once")]
# The stop reason of each way a run ends; None: a failure, answered with a JSON-RPC error.
# A run the model finished after a denial is an answered turn (end_turn); "refusal" is
# kept for a prompt that was never answered (a UserPromptSubmit hook blocked it), since
# an editor drops a refused prompt from the thread.
STOP_REASONS = {"success": "end_turn", "error_interrupted": "cancelled",
                "error_max_turns": "max_turn_requests", "error_max_cost": "max_turn_requests",
                "error_max_time": "max_turn_requests", "error_permission_denied": "end_turn",
                "error_verification_failed": "end_turn"}


class AcpSession:
    """Opening one blocks until the session is up (sandbox, workspace, MCP servers);
    AmaError when it cannot open, nothing left behind."""

    def __init__(self, options: SessionOptions, link: ClientLink, mode: Mode):
        self.link, self.mode = link, mode
        self.cancel = threading.Event()
        self.busy = False                 # a prompt is running (the server's flag)
        self.models = [options.model]     # offered in the model selector
        self._turns = 0
        self._updates: TurnUpdates | None = None
        self._held: list[str] = []        # warnings from outside a turn, for the next one
        self._lock = threading.Lock()     # held while a turn runs
        self.log = SessionLog(link.session_id)
        try:
            self.session = open_session(options, ev.fan_out(self.log, self._event),
                                        session_id=link.session_id, cancel=self.cancel,
                                        approve=self._approve)
        except BaseException:
            self.log.close()
            raise
        self.session.set_mode(mode)

    @property
    def id(self) -> str:
        return self.session.id

    # ---- a turn ------------------------------------------------------------------------

    def begin(self) -> None:
        """A prompt arrived: a cancel from now on is this turn's. (Called on the loop,
        before `turn` starts in its thread, so that a cancel sent right after the prompt
        is not lost.)"""
        self.cancel.clear()

    def turn(self, message: str) -> RunResult:
        """Run one prompt; then review (or apply) what it changed, unless it was cancelled."""
        from prompts import render
        with self._lock:
            self._turns += 1
            ws = self.session.workspace
            self._updates = TurnUpdates(self.link.update, ws.tree, ws.user_root, self._turns)
            for warning in self._held:   # e.g. the sandbox's, from when the session opened
                self.link.update(update_agent_thought_text(f"{warning}\n"))
            self._held.clear()
            plan = self.mode is Mode.PLAN
            try:
                result = run_turn(self.session, message,
                                  lambda t: render("plan_mode.md", message=t) if plan else t)
            finally:
                self._updates = None
            self.log.write(result.to_dict())
            cs = result.change_set
            if cs is not None and not cs.empty and not self.cancel.is_set():
                self._review(cs)
            return result

    def _review(self, cs) -> None:
        review = EditorReview(self.link.update,
                              lambda call, options: self.link.permission(call, options,
                                                                         self.cancel),
                              self.link.write_text if self.link.can_write else None)
        report = review.run(self.session.workspace, cs, auto=self.mode is Mode.AUTO_ACCEPT,
                            turn=self._turns)
        self.session.record("reviewed")
        if text := summary(report):
            self.link.update(update_agent_message_text(f"\n\n{text}\n"))

    def _event(self, e: ev.Event) -> None:
        if self._updates is not None:
            self._updates(e)
        elif isinstance(e, ev.Notice):   # outside a turn (opening): the editor's log
            log.log(logging.WARNING if e.level == "warning" else logging.INFO, "%s: %s",
                    self.link.session_id, e.message)
            if e.level == "warning":     # and the thread, with the next turn
                self._held.append(e.message)

    def _approve(self, call: ToolCall, reason: str) -> bool:
        """An "ask" rule fired: the editor's permission request answers it."""
        update = ToolCallUpdate(tool_call_id=call.id, title=tool_title(call.name, call.arguments),
                                kind=tool_kind(call.name), status="pending",
                                raw_input=dict(call.arguments),
                                content=[tool_content(text_block(f"ama asks: {reason}"))])
        answer = self.link.permission(update, APPROVAL, self.cancel)
        if answer == "allow_always":
            rules = self.session.always_allow(call)
            self.link.update(update_agent_thought_text(
                f"\n(always allowed in this repository: {', '.join(rules)})\n"))
        return answer in ("allow_once", "allow_always")

    # ---- operations ----------------------------------------------------------------------

    def interrupt(self) -> None:
        """session/cancel: stop the turn at its next step, as Esc does."""
        self.session.interrupt()

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.session.set_mode(mode)

    def set_model(self, spec: str) -> None:
        """AmaError (nothing changed) when `spec` names no usable model."""
        self.session.set_model(spec)
        if spec not in self.models:
            self.models.append(spec)

    def history(self) -> list[Any]:
        """The conversation so far as session updates (session/load replays it)."""
        out: list[Any] = []
        for m in self.session.agent.messages[1:]:
            if m.role == "user":
                out.append(update_user_message_text(m.content))
            elif m.role == "assistant":
                if m.content:
                    out.append(update_agent_message_text(m.content))
                out += [start_tool_call(c.id, tool_title(c.name, c.arguments),
                                        kind=tool_kind(c.name), status="completed",
                                        raw_input=dict(c.arguments)) for c in m.tool_calls]
            elif m.role == "tool" and m.tool_call_id:
                out.append(update_tool_call(m.tool_call_id,
                                            status="failed" if m.is_error else "completed",
                                            content=[tool_content(text_block(m.content))]))
        return out

    def close(self) -> None:
        """Stop a running turn, then the session; a workspace with changes pending is
        kept (`ama review`, or session/load, reopens it)."""
        self.interrupt()
        with self._lock:
            try:
                pending = not self.session.workspace.change_set().empty
            except Exception:   # an unreadable workspace: keep it, so nothing is lost
                pending = True
            if pending:
                log.warning("%s: changes are still pending; `ama review` in %s (or "
                            "session/load of this session) reopens them", self.id,
                            self.session.workspace.user_root)
            try:
                self.session.close(keep_workspace=pending)
            finally:
                self.log.close()


def stop_reason(result: RunResult, cancelled: bool = False) -> str | None:
    """The prompt's stop reason; `cancelled`: the editor cancelled the turn (perhaps
    only during its review, after the run itself had ended)."""
    from agent.core.hooks import HookBlocked
    if cancelled:
        return "cancelled"
    if isinstance(result.error, HookBlocked):
        return "refusal"
    return STOP_REASONS.get(result.subtype)
