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
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TextIO

from agent import events as ev
from agent.errors import AmaError, Interrupted
from agent.headless import (EXIT_CODES, RunOptions, change_set_or_none, install_interrupt,
                            progress_printer, result_object, count_turns, write_line,
                            write_result)
from agent.loop import Outcome
from agent.session import SessionLog, new_session_id
from agent.setup import SessionSetup, check_inputs, open_session
from agent.types import Usage

SELECT = ("smallest", "first")


@dataclass
class Attempt:
    """One attempt's state; written by its worker thread, read once it is done."""
    index: int
    session_id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    setup: SessionSetup | None = None
    outcome: Outcome | None = None
    cs: Any = None                        # tools.workspace.changeset.ChangeSet, or None
    changes: dict[str, Any] = field(default_factory=lambda: {"files": [], "patch": ""})
    duration: float = 0.0
    finished_at: float = 0.0

    @property
    def passed(self) -> bool:
        return self.outcome is not None and self.outcome.subtype == "success"

    @property
    def size(self) -> int:
        """Lines added plus lines removed (a binary file counts as one)."""
        return sum(f.get("additions", 0) + f.get("deletions", 0) + f.get("binary", False)
                   for f in self.changes["files"])


def run_attempts(opts: RunOptions, out: TextIO, err: TextIO) -> int:
    """Run `opts.attempts` attempts; write one result object to `out`. Returns the exit code."""
    started = time.monotonic()
    session_id = new_session_id()
    log = SessionLog(session_id)
    lock = threading.Lock()
    cancel = threading.Event()
    attempts = [Attempt(i, f"{session_id}-a{i}") for i in range(opts.attempts)]
    applied: dict[str, Any] | None = None
    winner: Attempt | None = None
    shown: Attempt | None = None
    restore = install_interrupt(cancel)
    try:
        check_inputs(opts)  # bad flags fail once, before N sessions start
        _race(opts, attempts, cancel, lock, out, err)
        winner = choose(attempts, opts.select)
        shown = winner or best_failure(attempts)
        if winner is not None and opts.select == "first":
            _mark_stopped(attempts, winner)
        outcome = shown.outcome
        if cancel.is_set():
            outcome = Outcome("error_interrupted", "interrupted by the user", outcome.num_turns)
        elif winner is not None and winner.cs is not None and not winner.cs.empty:
            try:
                applied = winner.setup.apply(winner.cs, opts.apply, opts.patch_out,
                                             winner.outcome.result or opts.task, author=opts.author)
            except AmaError as e:
                outcome = Outcome(e.subtype, e.message, outcome.num_turns, error=e)
        if applied is None and opts.apply == "patch" and opts.patch_out is not None \
                and shown.cs is not None and not _blocked(opts, shown):
            opts.patch_out.write_text(shown.cs.patch)
    except AmaError as e:  # bad input before any attempt started
        outcome = Outcome(e.subtype, e.message, 0, error=e)
        _write_progress(err, lock, f"ama: {e.message}\n")
    except BaseException:
        for a in attempts:
            a.cancel.set()
        raise
    finally:
        restore()
        _cleanup(attempts, opts, winner)
    result = result_object(opts, session_id, outcome, shown.setup if shown else None,
                            shown.changes if shown else {"files": [], "patch": ""}, applied,
                            time.monotonic() - started)
    _add_attempts(result, attempts, opts, winner)
    log.write(result)
    log.close()
    with lock:
        write_result(out, opts.output_format, result)
    code = EXIT_CODES.get(outcome.subtype, 1)
    if outcome.error is not None and outcome.subtype not in EXIT_CODES:
        code = outcome.error.exit_code
    return code


def choose(attempts: list[Attempt], select: str) -> Attempt | None:
    """The winner among attempts that passed, or None. An attempt that changed nothing
    wins only when no passing attempt changed anything."""
    passed = [a for a in attempts if a.passed]
    if not passed:
        return None
    if select == "first":
        return min(passed, key=lambda a: (not a.changes["files"], a.finished_at, a.index))
    return min(passed, key=lambda a: (not a.changes["files"], a.size, a.index))


def _blocked(opts: RunOptions, a: Attempt) -> bool:
    """An untrusted attempt whose change set touches protected files: no patch file."""
    if not opts.untrusted:
        return False
    from agent.untrusted import protected_paths
    return bool(protected_paths(a.cs))


def _mark_stopped(attempts: list[Attempt], winner: Attempt) -> None:
    for a in attempts:
        if a is not winner and a.outcome.subtype == "error_interrupted":
            a.outcome = Outcome(a.outcome.subtype, f"stopped: attempt {winner.index} passed first",
                                a.outcome.num_turns)


def best_failure(attempts: list[Attempt]) -> Attempt:
    """The attempt to report when none passed: one that reached a change set and ran
    out of verification tries first, then any with a change set, then the first."""
    return min(attempts, key=lambda a: (a.outcome.subtype != "error_verification_failed",
                                        not a.changes["files"], a.index))


# ---- running ------------------------------------------------------------------------

def _race(opts: RunOptions, attempts: list[Attempt], cancel: threading.Event,
          lock: threading.Lock, out: TextIO, err: TextIO) -> None:
    """Run every attempt, at most `opts.parallel` at once, until all have ended."""
    workers = max(1, min(opts.parallel or len(attempts), len(attempts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ama-attempt") as pool:
        pending = {pool.submit(_run_one, opts, a, lock, out, err) for a in attempts}
        try:
            while pending:
                # Poll, so that the main thread keeps handling signals.
                _, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                if cancel.is_set() or (opts.select == "first" and any(
                        a.passed and a.changes["files"] for a in attempts)):
                    for a in attempts:
                        if not a.passed:
                            a.cancel.set()
        except BaseException:  # a second Ctrl-C: stop them all, then wait for them to end
            for a in attempts:
                a.cancel.set()
            raise


def _run_one(opts: RunOptions, a: Attempt, lock: threading.Lock, out: TextIO, err: TextIO) -> None:
    """One attempt from start to change set. Never raises: the outcome says what happened."""
    started = time.monotonic()
    log = SessionLog(a.session_id)
    emit = ev.fan_out(log, progress_printer(_Prefixed(err, f"[attempt {a.index}] ", lock)),
                      *([_tagged_lines(out, a.index, lock)] if opts.output_format == "stream-json"
                        else []))
    try:
        if a.cancel.is_set():
            raise Interrupted("stopped before it started")
        a_opts = dataclasses.replace(opts, model_options={**opts.model_options, "attempt": a.index})
        a.setup = open_session(a_opts, a.session_id, emit, a.cancel)
        outcome = a.setup.agent.run(opts.task)
        a.cs = change_set_or_none(a.setup, emit)
        if a.cs is not None:
            a.changes = a.cs.summary()
            emit(ev.ChangeSetReady(tuple(a.changes["files"]), a.changes["patch"]))
            if opts.untrusted:
                from agent.untrusted import gate
                outcome = gate(outcome, a.cs, a.setup.agent.denials)
        if outcome.subtype == "success" and a.setup.agent.denials and not a.changes["files"]:
            outcome = Outcome("error_permission_denied", outcome.result, outcome.num_turns)
    except AmaError as e:
        emit(ev.ErrorEvent(e.message, e.subtype))
        outcome = Outcome(e.subtype, e.message, count_turns(a.setup), error=e)
    except Exception as e:  # a bug: this attempt fails, the others go on
        log.write({"type": "traceback", "text": traceback.format_exc()})
        message = f"internal error: {type(e).__name__}: {e} (details in {log.path})"
        emit(ev.ErrorEvent(message, "error_during_execution"))
        outcome = Outcome("error_during_execution", message, count_turns(a.setup))
    finally:
        if a.setup is not None:  # containers are dear: close each as soon as it is done
            _quietly(a.setup.sandbox.close)
    a.outcome = outcome
    a.duration = time.monotonic() - started
    a.finished_at = time.monotonic()
    # Each attempt's log is a whole session, ending in its own result object.
    log.write(result_object(opts, a.session_id, outcome, a.setup, a.changes, None, a.duration))
    log.close()


def _cleanup(attempts: list[Attempt], opts: RunOptions, winner: Attempt | None) -> None:
    """Remove every scratch workspace but the ones to keep (as a single run would)."""
    for a in attempts:
        if a.setup is None:
            continue
        keep = opts.keep_workspace or (a is winner and opts.apply == "patch"
                                       and bool(a.changes["files"]))
        if not keep:
            _quietly(a.setup.workspace.cleanup)


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # cleanup must not hide the run's own outcome
        pass


# ---- the result object --------------------------------------------------------------

def _entry(opts: RunOptions, a: Attempt) -> dict[str, Any]:
    """One attempt's entry in the result object's `attempts` list."""
    base = result_object(opts, a.session_id, a.outcome, a.setup, a.changes, None, a.duration)
    return {
        "type": "attempt",
        "attempt": a.index,
        "session_id": a.session_id,
        "subtype": base["subtype"],
        "is_error": base["is_error"],
        "result": base["result"],
        "num_turns": base["num_turns"],
        "duration_ms": base["duration_ms"],
        "usage": base["usage"],
        "total_cost_usd": base["total_cost_usd"],
        "verification": base["verification"],
        "diff": {"files": len(a.changes["files"]),
                 "additions": sum(f.get("additions", 0) for f in a.changes["files"]),
                 "deletions": sum(f.get("deletions", 0) for f in a.changes["files"])},
        "permission_denials": len(base["permission_denials"]),
    }


def _add_attempts(result: dict[str, Any], attempts: list[Attempt], opts: RunOptions,
                  winner: Attempt | None) -> None:
    """Sum usage, cost and turns over all attempts; list every attempt and the winner."""
    ran = [a for a in attempts if a.outcome is not None]
    usage = sum((a.setup.agent.usage for a in ran if a.setup is not None), Usage())
    result["usage"] = usage.to_dict()
    result["total_cost_usd"] = round(usage.cost_usd, 6)
    result["num_turns"] = sum(a.outcome.num_turns for a in ran)
    result["permission_denials"] = [
        {**d, "attempt": a.index} for a in ran if a.setup is not None for d in a.setup.agent.denials]
    result["attempts"] = [_entry(opts, a) for a in ran]
    result["chosen"] = winner.index if winner is not None else None
    result["select"] = opts.select


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
    """stream-json: each attempt's events, one a line, tagged with `attempt`."""
    def emit(e: ev.Event) -> None:
        with lock:
            write_line(out, {**e.to_dict(), "attempt": index})
    return emit
