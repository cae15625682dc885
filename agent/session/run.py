"""`run_session`: one task through an open session, to a RunResult. Never raises for
how the run went — a limit, a denial, a provider or sandbox failure, even a bug all
end in the record; only a second Ctrl-C (KeyboardInterrupt) goes through.

The lifecycle every front end shares, written once:
    the loop runs the task → the change set is read (and announced) → a run that
    "succeeded" without changing anything after a permission denial is blocked
    (exit 4) → the record.
"""
from __future__ import annotations

import time
import traceback
from typing import Any, Callable

from agent.core import events as ev
from agent.core.loop import Outcome
from agent.core.types import Message
from agent.session.result import NO_CHANGES, RunResult
from agent.session.session import Session


def run_session(session: Session, task: str) -> RunResult:
    """Run `task` (a user message) in `session`; the record of how it ended."""
    started = time.monotonic()
    agent = session.agent
    first_denial, first_message = len(agent.denials), len(agent.messages)
    try:
        outcome = agent.run(task)
    except Exception as e:  # a bug: the run fails, the record says so
        message = report_bug(e, session.id, session.emit)
        turns = sum(m.role == "assistant" for m in agent.messages[first_message:])
        outcome = Outcome("error_during_execution", message, turns)
    _answer_last(agent, outcome)
    cs, changes = read_change_set(session)
    denials = tuple(agent.denials[first_denial:])
    if outcome.subtype == "success" and denials and not changes["files"]:
        # The model gave up because something it needed was denied.
        outcome = Outcome("error_permission_denied", outcome.result, outcome.num_turns)
    return RunResult(
        subtype=outcome.subtype, result=outcome.result, session_id=session.id,
        model=session.model, num_turns=outcome.num_turns, duration=time.monotonic() - started,
        usage=agent.usage, changes=changes, change_set=cs,
        verification=agent.verifier.report() if agent.verifier else None,
        denials=denials, error=outcome.error, mcp_servers=session.mcp_servers)


def run_turn(session: Session, text: str, compose: Callable[[str], str] = lambda t: t
             ) -> RunResult:
    """`text` as the user gave it: a custom command (`/name args`) becomes its turn first
    (its `!` lines run, its allowed-tools and model hold for this turn only); `compose`
    makes the message the model gets (the REPL attaches mentions, plan mode)."""
    expansion = session.command_turn(text)
    if expansion is None:
        return run_session(session, compose(text))
    with session.command_overrides(expansion):
        return run_session(session, compose(expansion.text))


def _answer_last(agent, outcome: Outcome) -> None:
    """A run cut short may leave the conversation ending in a user message or a tool
    result; close it with a reply so the next message follows an assistant turn."""
    if agent.messages[-1].role in ("user", "tool"):
        text = ("(interrupted by the user)" if outcome.subtype == "error_interrupted"
                else f"(the run stopped: {outcome.result})")
        agent.messages.append(Message("assistant", text))


def report_bug(e: Exception, session_id: str, emit: ev.EventSink) -> str:
    """Emit a bug's traceback (for the log) and its error; returns the error message.
    Call from an `except` block."""
    emit(ev.InternalError(traceback.format_exc()))
    message = (f"internal error: {type(e).__name__}: {e} (the traceback is in the session "
               f"log: `ama sessions show {session_id}`)")
    emit(ev.ErrorEvent(message, "error_during_execution"))
    return message


def read_change_set(session: Session) -> tuple[Any, dict[str, Any]]:
    """(ChangeSet, its summary) of the scratch tree now, announced as a ChangeSetReady
    event; (None, no changes) — reported — if the workspace cannot be read any more."""
    try:
        cs = session.workspace.change_set()
    except Exception as e:  # e.g. a command deleted the scratch copy
        session.emit(ev.ErrorEvent(f"could not compute the change set: {e}",
                                   "error_during_execution"))
        return None, dict(NO_CHANGES)
    changes = cs.summary()
    session.emit(ev.ChangeSetReady(tuple(changes["files"]), changes["patch"]))
    return cs, changes
