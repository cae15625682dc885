"""`--attempts N`: best of N independent attempts at one task, run concurrently.

Each attempt is a whole session of its own (scratch workspace, sandbox container,
session log, model with `options["attempt"] = i`), with the same instruction and
verifier. At most `--parallel P` run at once (threads: the work waits on the model
and the sandbox). The winner is an attempt that passes (its verification, or just
"done" without `--verify`): with `--select smallest` (default) the one with the
smallest change set, with `--select first` the first to pass, which also stops the
others. The winner's change set goes through the usual `--apply`. The result object
is the usual one, with usage and cost summed over all attempts, plus `attempts`
(one entry each) and `chosen` (the winner's index, or null).

A SIGINT or SIGTERM stops every attempt; each closes its sandbox as it ends, and
every scratch workspace is removed before the run returns.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TextIO

from agent.core import events as ev
from agent.core.errors import AmaError, Interrupted, RuntimeFailure
from agent.core.types import Usage
from agent.headless.interrupt import install_interrupt
from agent.headless.output import deliver, write_line, write_result
from agent.headless.untrusted import gate
from agent.session.apply import check_apply_target
from agent.session.log import SessionLog, new_session_id
from agent.session.open import open_session
from agent.session.options import RunRequest, SessionOptions
from agent.session.result import RunResult, not_started
from agent.session.run import report_bug, run_turn
from agent.session.session import Session
from agent.ui.progress import progress_printer


@dataclass
class Attempt:
    """One attempt's state; written by its worker thread, read once it is done."""
    index: int
    session_id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    session: Session | None = None
    result: RunResult | None = None
    finished_at: float = 0.0

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.subtype == "success"

    @property
    def files(self) -> list[dict[str, Any]]:
        return self.result.changes["files"] if self.result is not None else []

    @property
    def size(self) -> int:
        """Lines added plus lines removed (a binary file counts as one)."""
        return sum(f.get("additions", 0) + f.get("deletions", 0) + f.get("binary", False)
                   for f in self.files)


def run_attempts(options: SessionOptions, request: RunRequest, out: TextIO, err: TextIO) -> int:
    """Run `request.attempts` attempts; write one result object to `out`. Returns the
    exit code."""
    started = time.monotonic()
    session_id = new_session_id()
    log = SessionLog(session_id)
    lock = threading.Lock()
    cancel = threading.Event()
    attempts = [Attempt(i, f"{session_id}-a{i}") for i in range(request.attempts)]
    winner: Attempt | None = None
    restore = install_interrupt(cancel)
    try:
        check_apply_target(options.cwd, request.apply)  # bad flags fail once, not N times
        _race(options, request, attempts, cancel, lock, out, err)
        winner = choose(attempts, request.select)
        shown = winner or best_failure(attempts)
        if winner is not None and request.select == "first":
            _mark_stopped(attempts, winner)
        result = shown.result
        if cancel.is_set():
            result = dataclasses.replace(result, subtype="error_interrupted",
                                         result="interrupted by the user", error=None)
        root = shown.session.workspace.user_root if shown.session is not None else options.cwd
        result = deliver(result, request, root)
    except AmaError as e:  # bad input before any attempt started
        result = not_started(session_id, options.model, e)
        _write_progress(err, lock, f"ama: {e.message}\n")
    except BaseException:
        for a in attempts:
            a.cancel.set()
        raise
    finally:
        restore()
        _cleanup(attempts, request, winner)
    record = {**result.to_dict(), "session_id": session_id,
              "duration_ms": int((time.monotonic() - started) * 1000)}
    _add_attempts(record, attempts, request, winner)
    log.write(record)
    log.close()
    with lock:
        write_result(out, request.output_format, record)
    return result.exit_code


def choose(attempts: list[Attempt], select: str) -> Attempt | None:
    """The winner among attempts that passed, or None. An attempt that changed nothing
    wins only when no passing attempt changed anything."""
    passed = [a for a in attempts if a.passed]
    if not passed:
        return None
    if select == "first":
        return min(passed, key=lambda a: (not a.files, a.finished_at, a.index))
    return min(passed, key=lambda a: (not a.files, a.size, a.index))


def _mark_stopped(attempts: list[Attempt], winner: Attempt) -> None:
    for a in attempts:
        if a is not winner and a.result.subtype == "error_interrupted":
            a.result = dataclasses.replace(a.result, result=f"stopped: attempt {winner.index} "
                                                            f"passed first")


def best_failure(attempts: list[Attempt]) -> Attempt:
    """The attempt to report when none passed: one that reached a change set and ran
    out of verification tries first, then any with a change set, then the first."""
    return min(attempts, key=lambda a: (a.result.subtype != "error_verification_failed",
                                        not a.files, a.index))


# ---- running ------------------------------------------------------------------------

def _race(options: SessionOptions, request: RunRequest, attempts: list[Attempt],
          cancel: threading.Event, lock: threading.Lock, out: TextIO, err: TextIO) -> None:
    """Run every attempt, at most `request.parallel` at once, until all have ended."""
    workers = max(1, min(request.parallel or len(attempts), len(attempts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ama-attempt") as pool:
        pending = {pool.submit(_run_one, options, request, a, lock, out, err) for a in attempts}
        try:
            while pending:
                # Poll, so that the main thread keeps handling signals.
                _, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                if cancel.is_set() or (request.select == "first" and any(
                        a.passed and a.files for a in attempts)):
                    for a in attempts:
                        if not a.passed:
                            a.cancel.set()
        except BaseException:  # a second Ctrl-C: stop them all, then wait for them to end
            for a in attempts:
                a.cancel.set()
            raise


def _run_one(options: SessionOptions, request: RunRequest, a: Attempt, lock: threading.Lock,
             out: TextIO, err: TextIO) -> None:
    """One attempt from start to change set. Never raises: the record says what happened."""
    started = time.monotonic()
    log = SessionLog(a.session_id)
    sink = ev.fan_out(log, progress_printer(_Prefixed(err, f"[attempt {a.index}] ", lock)),
                      *([_tagged_lines(out, a.index, lock)] if request.output_format == "ama-events"
                        else []))
    try:
        if a.cancel.is_set():
            raise Interrupted("stopped before it started")
        mine = dataclasses.replace(options, model_options={**options.model_options,
                                                           "attempt": a.index})
        a.session = open_session(mine, sink, session_id=a.session_id, cancel=a.cancel,
                                 focus=request.task)
        result = run_turn(a.session, request.task)
        a.result = gate(result) if request.untrusted else result
    except AmaError as e:
        sink(ev.ErrorEvent(e.message, e.subtype))
        a.result = not_started(a.session_id, options.model, e, time.monotonic() - started)
    except Exception as e:  # a bug: this attempt fails, the others go on
        error = RuntimeFailure(report_bug(e, a.session_id, sink))
        a.result = not_started(a.session_id, options.model, error, time.monotonic() - started)
    finally:
        if a.session is not None:  # containers are dear: close each as soon as it is done
            _quietly(a.session.sandbox.close)
    a.finished_at = time.monotonic()
    # Each attempt's log is a whole session, ending in its own result object.
    log.write(a.result.to_dict())
    log.close()


def _cleanup(attempts: list[Attempt], request: RunRequest, winner: Attempt | None) -> None:
    """Remove every scratch workspace but the ones to keep (as a single run would)."""
    for a in attempts:
        if a.session is None:
            continue
        keep = a is winner and request.apply == "patch" and bool(a.files)
        _quietly(lambda: a.session.close(keep_workspace=keep))


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # cleanup must not hide the run's own outcome
        pass


# ---- the result object --------------------------------------------------------------

def _entry(a: Attempt) -> dict[str, Any]:
    """One attempt's entry in the result object's `attempts` list."""
    base = a.result.to_dict()
    return {
        "type": "attempt",
        "attempt": a.index,
        "session_id": a.session_id,
        **{k: base[k] for k in ("subtype", "is_error", "result", "num_turns", "duration_ms",
                                "usage", "total_cost_usd", "verification")},
        "diff": {"files": len(a.files),
                 "additions": sum(f.get("additions", 0) for f in a.files),
                 "deletions": sum(f.get("deletions", 0) for f in a.files)},
        "permission_denials": len(base["permission_denials"]),
    }


def _add_attempts(record: dict[str, Any], attempts: list[Attempt], request: RunRequest,
                  winner: Attempt | None) -> None:
    """Sum usage, cost and turns over all attempts; list every attempt and the winner."""
    ran = [a for a in attempts if a.result is not None]
    usage = sum((a.result.usage for a in ran), Usage())
    record["usage"] = usage.to_dict()
    record["total_cost_usd"] = round(usage.cost_usd, 6)
    record["num_turns"] = sum(a.result.num_turns for a in ran)
    record["permission_denials"] = [{**d, "attempt": a.index} for a in ran for d in a.result.denials]
    record["attempts"] = [_entry(a) for a in ran]
    record["chosen"] = winner.index if winner is not None else None
    record["select"] = request.select


# ---- output from several threads ------------------------------------------------------

class _Prefixed:
    """A text stream that prefixes each line (one attempt's progress on stderr)."""

    def __init__(self, stream: TextIO, prefix: str, lock: threading.Lock):
        self.stream, self.prefix, self.lock = stream, prefix, lock

    def write(self, text: str) -> None:
        lines = text.splitlines(keepends=True)
        with self.lock:
            self.stream.write("".join(self.prefix + line for line in lines))

    def flush(self) -> None:
        with self.lock:
            self.stream.flush()


def _write_progress(err: TextIO, lock: threading.Lock, text: str) -> None:
    with lock:
        err.write(text)
        err.flush()


def _tagged_lines(out: TextIO, index: int, lock: threading.Lock) -> ev.EventSink:
    """ama-events: each attempt's events, one a line, tagged with `attempt`."""
    def emit(e: ev.Event) -> None:
        with lock:
            write_line(out, {**e.to_dict(), "attempt": index})
    return emit
