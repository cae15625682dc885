"""`ama -p --input-format stream-json`: a multi-turn headless session, one turn for each
user message on stdin (agent/headless/stream_input.py), all in one session.

The session opens with the first message (its repo map leans toward that text); each
turn runs as a headless run does and writes its result object when it ends, as Claude
Code does, so a client can wait for it before sending the next message. A line that is
not a user message gets an `error_bad_input` result of its own and the session goes
on. When stdin ends, the session's change set goes through `--apply` once — only if
the last line was a turn that succeeded — and an `applied` event (stream-json: the
`ama_applied` system message) says what was done. The exit code is the last line's
(or applying's, if that failed). Ctrl-C ends the turn and the session.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar, Mapping, TextIO

from agent.core import events as ev
from agent.core.errors import AmaError, BadInput, RuntimeFailure
from agent.headless.interrupt import install_interrupt
from agent.headless.output import Output, deliver, make_output, write_line
from agent.headless.stream_input import EXAMPLE, ControlRequest, read_turns
from agent.headless.untrusted import gate
from agent.session.apply import check_apply_target
from agent.session.log import SessionLog, new_session_id
from agent.session.open import open_session
from agent.session.options import RunRequest, SessionOptions
from agent.session.result import RunResult, not_started
from agent.session.run import report_bug, run_turn
from agent.session.session import Session
from agent.ui.progress import progress_printer


@dataclass(frozen=True)
class Applied(ev.Event):
    """What `--apply` did with the change set of a multi-turn session, once stdin ended:
    `applied` as in the result object, `subtype` and `message` of how it went."""
    type: ClassVar[str] = "applied"
    applied: Mapping[str, Any] | None
    subtype: str
    message: str


class _Turns:
    """One multi-turn session: its log, output and state across the turns."""

    def __init__(self, options: SessionOptions, request: RunRequest, out: TextIO,
                 err: TextIO) -> None:
        self.options, self.request, self.out = options, request, out
        self.session_id = options.resume or new_session_id()
        self.log = SessionLog(self.session_id)
        self.output: Output = make_output(out, request.output_format, self.session_id, options)
        self.sink = ev.fan_out(self.log, progress_printer(err), self.output)
        self.cancel = threading.Event()
        self.session: Session | None = None
        self.last: RunResult | None = None   # the last line's result
        self.worked: RunResult | None = None  # the last turn's (a line that ran)

    def run(self, stdin: BinaryIO) -> int:
        restore = install_interrupt(self.cancel)
        applied = False
        try:
            try:
                check_apply_target(self.options.cwd, self.request.apply)
                for item in read_turns(stdin):
                    self._line(item)
                    if self.cancel.is_set():
                        break
                if self.last is None:
                    raise BadInput(f"--input-format stream-json: stdin ended before any user "
                                   f"message; write one JSON line per turn, like {EXAMPLE}")
                applied = self._deliver()
            except AmaError as e:   # bad flags, or the session could not open
                self._failed(e, e)
            except Exception as e:  # a bug: still a result object that says so
                self._failed(e, RuntimeFailure(report_bug(e, self.session_id, self.sink)))
        finally:
            restore()
            if self.session is not None:   # changes not applied stay for `ama review`
                keep = bool(self.worked and self.worked.changed) and (
                    self.request.apply == "patch" or not applied)
                self.session.close(keep_workspace=keep)
            self.log.close()
        return self.last.exit_code

    def _line(self, item: str | BadInput | ControlRequest) -> None:
        if isinstance(item, ControlRequest):
            write_line(self.out, item.refusal())
            return
        if isinstance(item, BadInput):
            self.sink(ev.ErrorEvent(item.message, item.subtype))
            self._write(not_started(self.session_id, self._model(), item))
            return
        if self.session is None:
            self.session = open_session(self.options, self.sink, session_id=self.session_id,
                                        cancel=self.cancel, focus=item)
        self.output.ready(self.session)
        result = run_turn(self.session, item)
        self.worked = gate(result) if self.request.untrusted else result
        self._write(self.worked)

    def _deliver(self) -> bool:
        """The change set through --apply when the last line was a turn; True when it
        was applied (for --apply patch: reported, and written to --patch-out if given)."""
        turn = self.worked
        if turn is None or turn is not self.last or self.session is None:
            return False
        delivered = deliver(turn, self.request, self.session.workspace.user_root)
        if delivered.applied is None and not delivered.is_error:
            return False   # no changes: nothing to apply
        if delivered.applied is None and delivered.subtype == turn.subtype:
            return False   # the turn failed: nothing is applied (its result said so)
        self.sink(Applied(delivered.applied, delivered.subtype, delivered.result
                          if delivered.is_error else f"--apply {self.request.apply}: done"))
        self.last = delivered
        return delivered.applied is not None

    def _failed(self, e: Exception, error: AmaError) -> None:
        if isinstance(e, AmaError):
            self.sink(ev.ErrorEvent(error.message, error.subtype))
        self._write(not_started(self.session_id, self._model(), error))

    def _write(self, result: RunResult) -> None:
        self.last = result
        self.log.write(result.to_dict())
        self.output.result(result.to_dict())

    def _model(self) -> str:
        return self.session.model if self.session is not None else self.options.model


def run_turns(options: SessionOptions, request: RunRequest, out: TextIO, err: TextIO,
              stdin: BinaryIO) -> int:
    """Run every user message on `stdin` as a turn of one session. Returns the exit code
    of the last line (or of applying the change set)."""
    return _Turns(options, request, out, err).run(stdin)

