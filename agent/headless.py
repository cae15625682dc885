"""`ama -p TASK`: one non-interactive run, start to result object.

Never waits on a TTY. Progress goes to stderr, the result to stdout. Exit codes:
0 done, 1 runtime failure, 2 bad input, 3 limit reached, 4 blocked by permissions,
5 verification failed, 130 interrupted.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from agent import events as ev
from agent.errors import AmaError, BadInput
from agent.loop import Limits, Outcome
from agent.types import Usage
from agent.session import SessionLog, new_session_id
from agent.setup import SessionSetup, open_session

EXIT_CODES = {"success": 0, "error_max_turns": 3, "error_max_cost": 3, "error_max_time": 3,
              "error_permission_denied": 4, "error_verification_failed": 5, "error_bad_input": 2,
              "error_interrupted": 130}
OUTPUT_FORMATS = ("text", "json", "stream-json")


@dataclass
class RunOptions:
    task: str
    model: str
    cwd: Path
    output_format: str = "text"
    apply: str = "patch"                  # patch | tree | commit | branch:NAME
    patch_out: Path | None = None
    sandbox: str | None = None
    sandbox_image: str | None = None
    network: bool = False
    limits: Limits = field(default_factory=Limits)
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    permission_mode: str = "default"
    keep_workspace: bool = False
    verify: str | None = None             # a command that must pass for the run to be done
    max_verify: int = 3                   # verification runs before giving up (exit 5)
    model_options: dict[str, Any] = field(default_factory=dict)
    ask_tools: tuple[str, ...] = ()       # rules that always ask (config permissions.ask)
    granted_tools: tuple[str, ...] = ()   # rules saved by "always allow" (agent/trust.py)
    config: Any = None                    # the merged agent.config.Config, when there is one
    trusted: bool = False                 # the user trusts this repo's own files (agent/trust.py)
    resume: str | None = None             # a session id to continue (--continue / --resume)
    # CI (agent/attempts.py, agent/untrusted.py)
    attempts: int = 1                     # independent attempts; the best passing one wins
    parallel: int | None = None           # attempts running at once (None: all)
    select: str = "smallest"              # smallest | first: which passing attempt wins
    untrusted: bool = False               # task text from an untrusted source (issue, PR)
    author: str | None = None             # "Name <email>" of the commit for commit/branch:NAME


def check_apply(apply: str) -> str:
    if apply in ("patch", "tree", "commit") or (apply.startswith("branch:") and len(apply) > 7):
        return apply
    raise BadInput(f"--apply {apply!r} is not one of patch, tree, commit, branch:NAME")


def run_headless(opts: RunOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run one task; write the result (per output format) to `out`. Returns the exit code."""
    if opts.attempts > 1:
        from agent.attempts import run_attempts
        return run_attempts(opts, out, err)
    started = time.monotonic()
    session_id = opts.resume or new_session_id()   # a resumed session appends to its log
    log = SessionLog(session_id)
    sinks = [log, progress_printer(err)]
    if opts.output_format == "stream-json":
        sinks.append(lambda e: write_line(out, e.to_dict()))
    emit = ev.fan_out(*sinks)
    setup: SessionSetup | None = None
    outcome: Outcome
    changes: dict[str, Any] = {"files": [], "patch": ""}
    applied: dict[str, Any] | None = None
    cancel = threading.Event()
    restore = install_interrupt(cancel)
    try:
        setup = open_session(opts, session_id, emit, cancel)
        outcome = setup.agent.run(opts.task)
        cs = change_set_or_none(setup, emit)
        if cs is not None:
            changes = cs.summary()
            emit(ev.ChangeSetReady(tuple(changes["files"]), changes["patch"]))
            blocked = False
            if opts.untrusted:  # a change to protected files: blocked, no patch file either
                from agent.untrusted import gate, protected_paths
                outcome, blocked = gate(outcome, cs, setup.agent.denials), bool(protected_paths(cs))
            if not outcome.is_error and not cs.empty:
                applied = setup.apply(cs, opts.apply, opts.patch_out, outcome.result or opts.task,
                                      author=opts.author)
            elif opts.apply == "patch" and opts.patch_out is not None and not blocked:
                opts.patch_out.write_text(cs.patch)
        if outcome.subtype == "success" and setup.agent.denials and not changes["files"]:
            # The model gave up because something it needed was denied.
            outcome = Outcome("error_permission_denied", outcome.result, outcome.num_turns)
    except AmaError as e:
        emit(ev.ErrorEvent(e.message, e.subtype))
        outcome = Outcome(e.subtype, e.message, count_turns(setup), error=e)
    except Exception as e:  # a bug: still end with a result object that says so
        log.write({"type": "traceback", "text": traceback.format_exc()})
        message = f"internal error: {type(e).__name__}: {e} (details in {log.path})"
        emit(ev.ErrorEvent(message, "error_during_execution"))
        outcome = Outcome("error_during_execution", message, count_turns(setup))
    finally:
        restore()
        if setup is not None:
            setup.close(keep=opts.keep_workspace or (opts.apply == "patch" and bool(changes["files"])))
    result = result_object(opts, session_id, outcome, setup, changes, applied,
                            time.monotonic() - started)
    log.write(result)
    log.close()
    write_result(out, opts.output_format, result)
    code = EXIT_CODES.get(outcome.subtype, 1)
    if outcome.error is not None and outcome.subtype not in EXIT_CODES:
        code = outcome.error.exit_code
    return code


def count_turns(setup: "SessionSetup | None") -> int:
    return 0 if setup is None else sum(m.role == "assistant" for m in setup.agent.messages)


def change_set_or_none(setup: SessionSetup, emit: ev.EventSink):
    """The run's change set, or None (reported) if the workspace cannot be read any more."""
    try:
        return setup.workspace.change_set()
    except Exception as e:  # e.g. a command deleted the scratch copy
        emit(ev.ErrorEvent(f"could not compute the change set: {e}", "error_during_execution"))
        return None


def result_object(opts: RunOptions, session_id: str, outcome: Outcome,
                   setup: "SessionSetup | None", changes: dict, applied: dict | None,
                   duration: float) -> dict[str, Any]:
    agent = setup.agent if setup else None
    usage = (agent.usage if agent else Usage()).to_dict()
    return {
        "type": "result",
        "subtype": outcome.subtype,
        "is_error": outcome.is_error,
        "result": outcome.result,
        "session_id": session_id,
        "model": opts.model,
        "num_turns": outcome.num_turns,
        "duration_ms": int(duration * 1000),
        "usage": usage,
        "total_cost_usd": round(usage.get("cost_usd", 0.0), 6),
        "changes": changes,
        "applied": applied,
        "verification": agent.verifier.report() if agent and agent.verifier else None,
        "permission_denials": list(agent.denials) if agent else [],
    }


def write_line(out: TextIO, obj: dict) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    out.flush()


def write_result(out: TextIO, fmt: str, result: dict) -> None:
    if fmt in ("json", "stream-json"):
        write_line(out, result)
    else:
        out.write((result["result"] or "").rstrip() + "\n")
        out.flush()


def progress_printer(err: TextIO):
    """Compact progress lines for humans on stderr (the result goes to stdout)."""
    def emit(e: ev.Event) -> None:
        if isinstance(e, ev.ToolCallProposed):
            key = next((str(v) for k, v in e.arguments.items()
                        if k in ("path", "command", "pattern", "args")), "")
            err.write(f"→ {e.name} {key[:100]}\n")
        elif isinstance(e, ev.ToolFinished):
            first = e.summary or (e.output.strip().splitlines() or [""])[0]
            failed = e.is_error or e.data.get("exit_code", 0) != 0
            err.write(f"  {'✗' if failed else '✓'} {first[:160]}\n")
        elif isinstance(e, ev.PermissionDenied):
            err.write(f"  ⊘ {e.name}: {e.reason}\n")
        elif isinstance(e, (ev.ErrorEvent, ev.Notice)):
            err.write(f"ama: {e.message}\n")
        else:
            return
        err.flush()
    return emit


def install_interrupt(cancel: threading.Event):
    """First SIGINT/SIGTERM asks the loop to stop; a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    for s in previous:
        signal.signal(s, handler)
    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)
    return restore
