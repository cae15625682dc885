"""One task of a batch, start to outcome: a normal headless run through the session API.

    checkout at base_commit (agent/batch/repos.py) → settle the flags for that folder,
    as `ama -p` does (task text untrusted unless --trusted-tasks: `harden`) → each
    attempt: open_session → run_turn → `gate` → reward, measured in its sandbox → close
    → the winner as `--attempts` picks it (`choose`, else `best_failure`)

`run_task` never raises for how the task went; it returns a `TaskOutcome` (plain data:
the Ray executor sends it back to the driver as it is), and leaves nothing behind: the
checkout is removed, every session closed. It writes no output of the batch: the
driver alone does that. A cancelled task comes back with `interrupted` set.
"""
from __future__ import annotations

import dataclasses
import secrets
import shutil
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent.batch.options import BatchOptions
from agent.batch.reward import measure, tests_command
from agent.batch.rollouts import rollout_record
from agent.batch.tasks import Task
from agent.core import events as ev
from agent.core.errors import AmaError, RuntimeFailure
from agent.core.types import Usage
from agent.headless.attempts import Attempt, best_failure, choose
from agent.headless.untrusted import gate, harden
from agent.session.log import SessionLog, new_session_id, read_session
from agent.session.open import open_session
from agent.session.options import RunRequest, SessionOptions
from agent.session.result import not_started
from agent.session.run import report_bug, run_turn

# Receives each event of a running task: (task id, attempt, event). Called from the
# task's thread.
OnEvent = Callable[[str, int, ev.Event], None]


@dataclass
class TaskOutcome:
    """What one task left: `record` (tasks/<id>/result.json, with `model_patch`),
    `events` (every attempt's session log, each line tagged with its `attempt`),
    `rollouts` (one record per attempt that ran) and whether it was `interrupted`
    (then nothing of it is written: the task is not done)."""
    id: str
    record: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    rollouts: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False


@dataclass
class TaskAttempt(Attempt):
    """An attempt of `--attempts` plus what a batch keeps of it."""
    reward: dict[str, Any] | None = None
    rollout: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


def run_task(task: Task, options: BatchOptions, cancel: threading.Event,
             on_event: OnEvent | None = None) -> TaskOutcome:
    """Run `task`'s attempts; `cancel` stops them (the outcome is then `interrupted`)."""
    from agent.batch.repos import prepare_checkout
    from agent.config.home import ama_home
    started = time.monotonic()
    work = ama_home() / "batch" / f"{task.id}-{secrets.token_hex(4)}"
    attempts: list[TaskAttempt] = []
    model = options.for_task(options.model, task.id) or ""
    try:
        work.mkdir(parents=True)
        cwd = prepare_checkout(task, work, repos=options.repos, repo_url=options.repo_url,
                               apply_test_patch=bool(options.test_cmd))
        session_options, request = settle_task(task, options, cwd)
        model = session_options.model
        for index in range(request.attempts):
            if cancel.is_set():
                break
            a = TaskAttempt(index, new_session_id(), cancel=cancel)
            attempts.append(a)
            _run_attempt(a, task, options, session_options, request, on_event)
            if request.select == "first" and a.passed:
                break
    except Exception as e:   # the task could not start: no repo, bad flags, bad script
        attempts = [_not_started(e, model, cancel, time.monotonic() - started)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    interrupted = cancel.is_set()
    record = task_record(task, attempts, options.select, time.monotonic() - started)
    return TaskOutcome(task.id, record, [e for a in attempts for e in a.events],
                       [a.rollout for a in attempts if a.rollout is not None], interrupted)


def _not_started(e: Exception, model: str, cancel: threading.Event,
                 duration: float) -> TaskAttempt:
    """The one attempt of a task that could not start (an AmaError says why; anything
    else is a bug, with its traceback in the task's events)."""
    a = TaskAttempt(0, new_session_id(), cancel=cancel)
    events = []
    if not isinstance(e, AmaError):
        events.append({"type": "traceback", "text": traceback.format_exc()})
        e = RuntimeFailure(f"internal error: {type(e).__name__}: {e}")
    a.result = not_started(a.session_id, model, e, duration)
    a.events = [*events, {"type": "error", "message": e.message, "subtype": e.subtype}]
    a.events = [{**x, "attempt": 0} for x in a.events]
    return a


def settle_task(task: Task, options: BatchOptions, cwd: Path) -> tuple[SessionOptions, RunRequest]:
    """The session options and run request of `task` on `cwd`: the batch's flags with
    the task's own model, image and verification, settled with the config layers as
    `ama -p` settles its flags, then hardened unless the tasks are trusted."""
    from agent.session.settle import Flags, settle
    flags = Flags(task=task.text, model=options.for_task(options.model, task.id), cwd=cwd,
                  max_turns=options.max_turns, max_cost=options.max_cost,
                  max_time=options.max_time, output_format="json", apply="patch",
                  sandbox=options.sandbox,
                  sandbox_image=options.for_task(options.sandbox_image, task.id),
                  network=options.network, allowed_tools=options.allowed_tools,
                  disallowed_tools=options.disallowed_tools,
                  permission_mode=options.permission_mode, verify=task_verify(task, options),
                  max_verify=options.max_verify, untrusted=not options.trusted_tasks,
                  attempts=options.attempts, select=options.select, config=options.config)
    session_options, request = settle(flags, headless=True)
    if request.untrusted:
        session_options, request = harden(session_options, request)
    return session_options, request


def task_verify(task: Task, options: BatchOptions) -> str | None:
    """The task's own verify, else --verify (with {instance_id}), else --test-cmd over
    its FAIL_TO_PASS tests."""
    if task.verify:
        return task.verify
    if options.verify:
        return options.for_task(options.verify, task.id)
    if options.test_cmd and task.fail_to_pass:
        return tests_command(options.test_cmd, task.fail_to_pass)
    return None


def _run_attempt(a: TaskAttempt, task: Task, options: BatchOptions,
                 session_options: SessionOptions, request: RunRequest,
                 on_event: OnEvent | None) -> None:
    """One attempt, as `--attempts` runs one, plus its reward and conversation. Never
    raises: the attempt's record says what happened."""
    started = time.monotonic()
    log = SessionLog(a.session_id)
    sinks: list[ev.EventSink] = [log]
    if on_event is not None:
        sinks.append(lambda e: on_event(task.id, a.index, e))
    sink = ev.fan_out(*sinks)
    mine = dataclasses.replace(session_options, model_options={**session_options.model_options,
                                                               "attempt": a.index})
    try:
        a.session = open_session(mine, sink, session_id=a.session_id, cancel=a.cancel,
                                 focus=request.task)
        result = run_turn(a.session, request.task)
        a.result = gate(result) if request.untrusted else result
        if not a.cancel.is_set():
            a.reward = measure(a.session.sandbox, a.result.verification,
                               verify=session_options.verify, test_cmd=options.test_cmd,
                               fail_to_pass=task.fail_to_pass)
        from tools.base import tool_spec
        a.rollout = rollout_record(
            instance_id=task.id, attempt=a.index, session_id=a.session_id,
            model=session_options.model, messages=a.session.agent.messages,
            tools=[tool_spec(t) for t in a.session.agent.tools], reward=a.reward,
            result={**a.result.to_dict(), "exit_code": a.result.exit_code})
    except AmaError as e:
        sink(ev.ErrorEvent(e.message, e.subtype))
        a.result = not_started(a.session_id, session_options.model, e, time.monotonic() - started)
    except Exception as e:  # a bug: this attempt fails, the batch goes on
        error = RuntimeFailure(report_bug(e, a.session_id, sink))
        a.result = not_started(a.session_id, session_options.model, error,
                               time.monotonic() - started)
    finally:
        if a.session is not None:
            _quietly(a.session.close)
    a.finished_at = time.monotonic()
    log.write(a.result.to_dict())
    log.close()
    a.events = [{**e, "attempt": a.index} for e in read_session(log.path)]


def task_record(task: Task, attempts: list[TaskAttempt], select: str,
                duration: float) -> dict[str, Any]:
    """The task's result object: the chosen attempt's (or the best failure's), with
    usage, cost and turns summed over all attempts, and what a batch adds: the
    instance id, the exit code, the patch for preds.json, the reward, and each attempt."""
    ran = [a for a in attempts if a.result is not None]
    winner = choose(ran, select)
    shown = winner or best_failure(ran)
    result = shown.result
    patch = result.changes["patch"]
    if any(d.get("tool_name") == "change_set" for d in result.denials):
        patch = ""   # `gate` blocked it (an untrusted run changed .ama/ or CI files)
    usage = sum((a.result.usage for a in ran), Usage())
    verification = result.verification
    return {**result.to_dict(), "instance_id": task.id, "exit_code": result.exit_code,
            "resolved": bool(verification and verification["passed"]),
            "reward": shown.reward["reward"] if shown.reward else None,
            "model_patch": patch, "duration_ms": int(duration * 1000),
            "usage": usage.to_dict(), "total_cost_usd": round(usage.cost_usd, 6),
            "num_turns": sum(a.result.num_turns for a in ran),
            "attempts": [_entry(a) for a in ran],
            "chosen": winner.index if winner is not None else None}


def _entry(a: TaskAttempt) -> dict[str, Any]:
    r = a.result
    files = r.changes["files"]
    return {"attempt": a.index, "session_id": a.session_id, "subtype": r.subtype,
            "exit_code": r.exit_code, "num_turns": r.num_turns,
            "duration_ms": int(r.duration * 1000), "usage": r.usage.to_dict(),
            "verified": r.verification["passed"] if r.verification else None,
            "reward": a.reward["reward"] if a.reward else None,
            "diff": {"files": len(files), "additions": sum(f.get("additions", 0) for f in files),
                     "deletions": sum(f.get("deletions", 0) for f in files)}}


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # closing must not hide the attempt's own outcome
        pass
