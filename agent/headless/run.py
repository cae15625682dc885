"""`ama -p TASK`: one non-interactive run, start to result object.

Never waits on a TTY. Progress goes to stderr, the result to stdout (one JSON object
for `json`; every event a line, then that object, for `stream-json`; the answer for
`text`). The exit code is the RunResult's (agent/session/result.py).
"""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from agent.core import events as ev
from agent.core.errors import AmaError, RuntimeFailure
from agent.headless.interrupt import install_interrupt
from agent.headless.output import deliver, write_line, write_result
from agent.headless.untrusted import gate, harden
from agent.session.apply import check_apply_target
from agent.session.log import SessionLog, new_session_id
from agent.session.open import open_session
from agent.session.options import RunRequest, SessionOptions
from agent.session.result import RunResult, not_started
from agent.session.run import report_bug, run_turn
from agent.session.session import Session
from agent.ui.progress import progress_printer


def run_headless(options: SessionOptions, request: RunRequest, out: TextIO = sys.stdout,
                 err: TextIO = sys.stderr) -> int:
    """Run one task; write the result (per output format) to `out`. Returns the exit code."""
    if request.untrusted:
        options, request = harden(options, request)
    if request.attempts > 1:
        from agent.headless.attempts import run_attempts
        return run_attempts(options, request, out, err)
    started = time.monotonic()
    session_id = options.resume or new_session_id()   # a resumed session appends to its log
    log = SessionLog(session_id)
    sinks = [log, progress_printer(err)]
    if request.output_format == "stream-json":
        sinks.append(lambda e: write_line(out, e.to_dict()))
    sink = ev.fan_out(*sinks)
    cancel = threading.Event()
    restore = install_interrupt(cancel)
    session: Session | None = None
    result: RunResult | None = None
    try:
        check_apply_target(options.cwd, request.apply)
        session = open_session(options, sink, session_id=session_id, cancel=cancel,
                               focus=request.task)
        result = run_turn(session, request.task)
        if request.untrusted:
            result = gate(result)
        result = deliver(result, request, session.workspace.user_root)
    except AmaError as e:   # the session could not open
        sink(ev.ErrorEvent(e.message, e.subtype))
        result = not_started(session_id, options.model, e, time.monotonic() - started)
    except Exception as e:  # a bug while opening: still a result object that says so
        error = RuntimeFailure(report_bug(e, session_id, sink))
        result = not_started(session_id, options.model, error, time.monotonic() - started)
    finally:
        restore()
        if session is not None:
            session.close(keep_workspace=request.apply == "patch" and bool(result and result.changed))
    log.write(result.to_dict())
    log.close()
    write_result(out, request.output_format, result.to_dict())
    return result.exit_code
