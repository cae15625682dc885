"""`ama -p TASK`: one non-interactive run, start to result object.

Never waits on a TTY. Progress goes to stderr, the run to stdout per `--output-format`
(agent/headless/output.py). The exit code is the RunResult's (agent/session/result.py).
With `--input-format stream-json` the turns come from stdin (agent/headless/turns.py).
"""
from __future__ import annotations

import sys
import threading
import time
from typing import BinaryIO, TextIO

from agent.core import events as ev
from agent.core.errors import AmaError, RuntimeFailure
from agent.headless.interrupt import install_interrupt
from agent.headless.output import deliver, make_output
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
                 err: TextIO = sys.stderr, stdin: BinaryIO | None = None) -> int:
    """Run one task (or, with --input-format stream-json, the turns on `stdin`); write
    the run per output format to `out`. Returns the exit code."""
    if request.untrusted:
        options, request = harden(options, request)
    if request.attempts > 1:
        from agent.headless.attempts import run_attempts
        return run_attempts(options, request, out, err)
    if request.input_format == "stream-json":
        from agent.headless.turns import run_turns
        return run_turns(options, request, out, err, stdin or sys.stdin.buffer)
    started = time.monotonic()
    session_id = options.resume or new_session_id()   # a resumed session appends to its log
    log = SessionLog(session_id)
    output = make_output(out, request.output_format, session_id, options)
    sink = ev.fan_out(log, progress_printer(err), output)
    cancel = threading.Event()
    restore = install_interrupt(cancel)
    session: Session | None = None
    result: RunResult | None = None
    try:
        check_apply_target(options.cwd, request.apply)
        session = open_session(options, sink, session_id=session_id, cancel=cancel,
                               focus=request.task)
        output.ready(session)
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
    output.result(result.to_dict())
    return result.exit_code
