"""`open_session` and the `Session` a program embedding ama holds.

A thin layer over the session API (agent/session/): the options are the CLI's flags,
settled with the config layers by the same `settle`; a task runs through `run_turn`
and ends in its RunResult; its events are the core's, typed (`agent/api/events.py`).
The session talks to the core the way every front end does: through its named
operations (interrupt, set_model, record), never by editing its fields.

    run(task)      in the calling thread; returns the Result
    stream(task)   runs in a thread; yields its events, the last a Finished(result)
    astream(task)  the same for asyncio (an `async def` approver is awaited on your loop)
    apply(), discard()   the pending change set: into your tree, or out of the scratch copy
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from queue import SimpleQueue
from types import TracebackType
from typing import (TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Iterable, Iterator,
                    Sequence, Union)

from agent.api.events import Event, Finished, Notice, ToolUse, event_of
from agent.api.records import Applied, Changes, Result, changes_of, frozen, result_of
from agent.core import events as ev
from agent.core.errors import BadInput

if TYPE_CHECKING:
    from agent.core.types import ToolCall
    from agent.session.log import SessionLog
    from agent.session.session import Session as CoreSession
    from tools.workspace.review import Decision, ReviewReport

Approver = Callable[[ToolUse, str], Union[bool, Awaitable[bool]]]
"""Answers a call a rule asks about: shown the call and the reason, True allows it.
May be an `async def` (awaited on the loop of `astream`, else run with asyncio.run)."""

# The CLI's flags that belong to one headless run (`ama -p`), not to a session.
HEADLESS_ONLY = frozenset({"task", "task_file", "output_format", "apply", "patch_out", "attempts",
                           "parallel", "select", "author", "untrusted", "input_format"})
_Item = Any   # what a stream's queue carries: an Event, an exception to re-raise, None (the end)


def open_session(cwd: str | os.PathLike[str] | None = None, *, model: str | None = None,
                 approve: Approver | None = None, sandbox: str | None = None,
                 sandbox_image: str | None = None, network: bool | None = None,
                 permission_mode: str | None = None, allowed_tools: Sequence[str] = (),
                 disallowed_tools: Sequence[str] = (), max_turns: int | None = None,
                 max_cost: float | None = None, max_time: float | None = None,
                 verify: str | None = None, max_verify: int | None = None, trust: bool = False,
                 config: Sequence[str] = (), resume: str | None = None, continue_: bool = False,
                 keep_workspace: bool = False, focus: str = "") -> "Session":
    """Open a session on the repository at `cwd` (default: the current directory).

    Every keyword but `approve` and `focus` is the `ama` flag of the same name and means
    what it means there (`ama --help`); None leaves it to the config layers. `config`:
    `--config FILE` or `KEY=VALUE` entries; `continue_`: `--continue`; `resume`: a
    session id to resume. `approve(call, reason)` answers "ask" rules; without one an
    ask is a denial, as in `ama -p`. `focus`: text (usually the first task) the first
    repo map leans toward.

    Raises BadInput for bad options or config, SandboxError when the sandbox cannot start.
    """
    from agent.session.log import SessionLog, new_session_id
    from agent.session.open import open_session as open_core
    from agent.session.settle import Flags, settle

    for name, rules in (("allowed_tools", allowed_tools), ("disallowed_tools", disallowed_tools),
                        ("config", config)):
        if isinstance(rules, str):
            raise BadInput(f"{name} takes a list of strings, not one string: {name}=[{rules!r}]")
    flags = Flags(model=model, cwd=Path(cwd) if cwd is not None else None, max_turns=max_turns,
                  max_cost=max_cost, max_time=max_time, sandbox=sandbox,
                  sandbox_image=sandbox_image, network=network, allowed_tools=tuple(allowed_tools),
                  disallowed_tools=tuple(disallowed_tools), permission_mode=permission_mode,
                  keep_workspace=keep_workspace, verify=verify, max_verify=max_verify,
                  trust=trust, config=tuple(config), continue_=continue_, resume=resume)
    options, _ = settle(flags, headless=False)
    session_id = options.resume or new_session_id()   # a resumed session appends to its log
    log = SessionLog(session_id)
    relay = _Relay(log, approve)
    try:
        core = open_core(options, relay, session_id=session_id,
                         approve=relay.approve if approve is not None else None, focus=focus)
    except BaseException:
        log.close()
        raise
    return Session(core, relay)


class Session:
    """An open session (`open_session` makes one): a scratch copy of your repository, a
    sandbox over it, a model.

    One task runs at a time. Its changes wait in the scratch copy until you `apply`
    them (or `discard` them); `close` (or leaving the `with` block) stops the sandbox
    and removes the scratch copy — kept when changes are pending, so nothing is lost:
    `ama review` in the repository shows them.
    """

    def __init__(self, core: "CoreSession", relay: "_Relay") -> None:
        self._core, self._relay = core, relay
        self._busy = threading.Lock()
        self._closed = False
        self._last_answer = ""

    # ---- what it is ---------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The session id: `ama --resume ID` continues it; its log is AMA_HOME/sessions/ID.jsonl."""
        return self._core.id

    @property
    def model(self) -> str:
        """The PROVIDER:MODEL in use."""
        return self._core.model

    @property
    def root(self) -> Path:
        """Your repository's top: where `apply` writes."""
        return self._core.workspace.user_root

    @property
    def notices(self) -> tuple[Notice, ...]:
        """Every notice of the session so far (e.g. an untrusted config, a local sandbox,
        a model whose cost is unknown), the ones from opening it first."""
        return tuple(self._relay.notices)

    # ---- running tasks ------------------------------------------------------------------

    def run(self, task: str) -> Result:
        """Run `task` in this thread; its Result (never an exception for how it went)."""
        with self._running(None, None):
            return self._task(task)

    def stream(self, task: str) -> Iterator[Event]:
        """Run `task` in a thread of its own and yield its events as they happen; the
        last is Finished(result). Leaving the loop early interrupts the task."""
        queue: SimpleQueue[_Item] = SimpleQueue()
        worker = self._start(task, queue.put, None)
        finished = False
        try:
            while (item := queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                finished = finished or isinstance(item, Finished)
                yield item
        finally:
            self._stop(worker, finished)

    async def astream(self, task: str) -> AsyncIterator[Event]:
        """`stream` for asyncio: the task runs in a thread, its events come to this loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()

        def put(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:   # the loop is closed: no one is listening any more
                self._core.interrupt()

        worker = self._start(task, put, loop)
        finished = False
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                finished = finished or isinstance(item, Finished)
                yield item
        finally:
            await asyncio.to_thread(self._stop, worker, finished)

    def interrupt(self) -> None:
        """Stop the running task at its next step (a running command is killed); it ends
        with subtype error_interrupted."""
        self._core.interrupt()

    # ---- the change set -----------------------------------------------------------------

    def changes(self) -> Changes:
        """The change set pending now: your tree as the session last saw it → the scratch copy."""
        with self._idle():
            cs = self._core.workspace.change_set()
            return changes_of(cs.summary()["files"], cs.patch)

    def apply(self, paths: Iterable[str] | None = None, *, mode: str = "tree",
              message: str | None = None, author: str | None = None) -> Applied:
        """Apply the pending changes (`paths`: only those files) the way `--apply` does.

        mode "tree": write them to your working tree, atomically, file by file as the
        REPL's review does; a file you changed meanwhile is left alone (in `conflicts`)
        and stays pending. "commit": the whole change set, committed on your current
        branch. "branch:NAME": committed on a new branch NAME, your tree untouched (the
        changes stay pending against it). `message`: the commit message (default: the
        last task's answer); `author`: "Name <email>".
        Raises BadInput for a bad mode or path, RuntimeFailure when a commit conflicts
        (nothing is applied then).
        """
        from agent.session.options import RunRequest
        with self._idle():
            if mode == "tree":
                report = self._review("accept", paths)
                return Applied(tuple(report.applied), frozen(report.conflicts))
            RunRequest(task="apply", apply=mode, author=author)   # the flags' own checks
            if mode == "patch":
                raise BadInput("mode 'patch' only reports; changes() gives the patch")
            if paths is not None:
                raise BadInput(f"mode {mode!r} applies the whole change set; give no paths, "
                               f"or apply some files with mode='tree'")
            return self._commit(mode, message, author)

    def discard(self, paths: Iterable[str] | None = None) -> tuple[str, ...]:
        """Drop the pending changes (`paths`: only those files) from the scratch copy, so
        the model's view matches your tree again; returns the paths reverted."""
        with self._idle():
            return tuple(self._review("reject", paths).reverted)

    # ---- settings -----------------------------------------------------------------------

    def set_model(self, spec: str) -> None:
        """Use PROVIDER:MODEL for the next tasks. BadInput (nothing changed) if it cannot
        be resolved."""
        with self._idle():
            self._core.set_model(spec)
            self._note_unknown_price()

    # ---- closing ------------------------------------------------------------------------

    def close(self, keep_workspace: bool | None = None) -> None:
        """Interrupt a running task, stop the sandbox, remove the scratch copy — kept
        when changes are pending unless `keep_workspace` is False (True keeps it anyway)."""
        if self._closed:
            return
        self._stop_asking()
        self.interrupt()
        with self._busy:   # the running task ends first
            self._closed = True
            try:
                self._core.close(keep_workspace=self._pending() if keep_workspace is None
                                 else keep_workspace)
            finally:
                self._relay.log.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> "Session":
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await asyncio.to_thread(self.close)

    # ---- inside -------------------------------------------------------------------------

    def _task(self, task: str) -> Result:
        from agent.session.run import run_turn
        if not task.strip():
            raise BadInput("the task is empty; say what to do")
        self._core.cancel.clear()   # an interrupt of the last task is spent
        record = run_turn(self._core, task)
        self._relay.log.write(record.to_dict())
        self._last_answer = record.result
        return result_of(record)

    @contextmanager
    def _running(self, deliver: Callable[[_Item], None] | None,
                 loop: asyncio.AbstractEventLoop | None) -> Iterator[None]:
        """Hold the session for one task, its events going to `deliver`."""
        with self._idle():
            self._relay.deliver, self._relay.loop = deliver, loop
            try:
                yield
            finally:
                self._relay.deliver = self._relay.loop = None

    @contextmanager
    def _idle(self) -> Iterator[None]:
        """Hold the session: BadInput when it is closed or a task is running."""
        if self._closed:
            raise BadInput("this session is closed; open another")
        if not self._busy.acquire(blocking=False):
            raise BadInput("a task is running in this session; wait for it to finish, or "
                           "interrupt() it")
        try:
            yield
        finally:
            self._busy.release()

    def _start(self, task: str, put: Callable[[_Item], None],
               loop: asyncio.AbstractEventLoop | None) -> threading.Thread:
        """Run `task` in a thread, its events, then Finished(result) (or the exception
        that stopped it), then None going to `put`."""
        hold = self._running(put, loop)
        hold.__enter__()   # raises here, in the caller, when the session is busy or closed

        def work() -> None:
            try:
                put(Finished(self._task(task)))
            except BaseException as e:   # an empty task, a bug: the consumer raises it
                put(e)
            finally:
                hold.__exit__(None, None, None)
                put(None)

        worker = threading.Thread(target=work, name=f"ama-task-{self.id}", daemon=True)
        worker.start()
        return worker

    def _stop(self, worker: threading.Thread, finished: bool) -> None:
        """The consumer is done with `worker`'s task: interrupt it unless it finished,
        and wait for its thread."""
        if not finished:
            self._stop_asking()
            self._core.interrupt()
        worker.join()

    def _stop_asking(self) -> None:
        pending = self._relay.pending
        if pending is not None:
            pending.cancel()

    def _review(self, decision: "Decision", paths: Iterable[str] | None) -> "ReviewReport":
        """Accept or reject the pending files (`paths`, or all) as the REPL's review does."""
        from tools.workspace.review import apply_review, split_change_set
        ws = self._core.workspace
        cs = ws.change_set()
        items = split_change_set(cs)
        if paths is not None:
            wanted = set(paths)
            known = {p for i in items for p in (i.path, i.change.old_path) if p}
            if wanted - known:
                raise BadInput(f"not in the change set: {', '.join(sorted(wanted - known))}; it "
                               f"holds {', '.join(sorted(i.path for i in items)) or 'nothing'}")
            items_chosen = [i for i in items if i.path in wanted or i.change.old_path in wanted]
        else:
            items_chosen = items
        for item in items_chosen:
            item.decisions = [decision] * len(item.decisions)
        report = apply_review(ws, cs, items)
        self._core.record("applied" if decision == "accept" else "discarded")
        return report

    def _commit(self, mode: str, message: str | None, author: str | None) -> Applied:
        """--apply commit | branch:NAME on the whole change set; after a commit your tree
        holds it, so it is no longer pending."""
        from agent.session.apply import apply_change_set, check_apply_target
        from tools.workspace.review import apply_review, decide_all, split_change_set
        ws = self._core.workspace
        check_apply_target(ws.user_root, mode)
        cs = ws.change_set()
        if cs.empty:
            return Applied()
        done = apply_change_set(cs, ws.user_root, mode, patch_out=None, author=author,
                                message=message or self._last_answer)
        if mode == "commit":
            items = split_change_set(cs)
            decide_all(items, "accept")
            apply_review(ws, cs, items)   # writes nothing: your tree holds each file already
            self._core.record("applied")
        return Applied(tuple(f.path for f in cs.files), commit=done["commit"],
                       branch=done.get("branch"))

    def _pending(self) -> bool:
        """Whether changes are pending (False when the scratch copy cannot be read: gone)."""
        try:
            return not self._core.workspace.change_set().empty
        except Exception:
            return False

    def _note_unknown_price(self) -> None:
        from agent.models.pricing import unknown_price_note
        model = self._core.agent.model
        if getattr(model, "price", False) is None:   # a provider that prices, not this model
            name = str(getattr(model, "model", self.model.split(":", 1)[-1]))
            self._relay(ev.Notice("warning", unknown_price_note(self.model, name)))


class _Relay:
    """Between the core session and the program: the sink every event goes to (the
    session log, the notices, the running task's consumer) and the approver the loop
    asks (the program's, shown typed calls; an async one awaited on its loop)."""

    def __init__(self, log: "SessionLog", approver: Approver | None) -> None:
        self.log, self.approver = log, approver
        self.notices: list[Notice] = []
        self.deliver: Callable[[_Item], None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: concurrent.futures.Future[bool] | None = None   # an async answer awaited

    def __call__(self, event: ev.Event) -> None:
        self.log(event)
        mine = event_of(event)
        if isinstance(mine, Notice):
            self.notices.append(mine)
        if self.deliver is not None:
            self.deliver(mine)

    def approve(self, call: "ToolCall", reason: str) -> bool:
        assert self.approver is not None   # open_session passes this only with an approver
        answer = self.approver(ToolUse(call.id, call.name, frozen(call.arguments)), reason)
        if not inspect.isawaitable(answer):
            return bool(answer)
        if self.loop is None:
            return bool(asyncio.run(_awaited(answer)))
        self.pending = asyncio.run_coroutine_threadsafe(_awaited(answer), self.loop)
        try:
            return bool(self.pending.result())
        except concurrent.futures.CancelledError:   # the consumer left: nobody approved it
            return False
        finally:
            self.pending = None


async def _awaited(answer: Awaitable[bool]) -> bool:
    return await answer
