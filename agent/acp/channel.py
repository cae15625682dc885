"""The way from a turn's thread to the editor: one ordered queue of outgoing messages.

The loop blocks, so a turn runs in a worker thread; the ACP connection lives on the
asyncio loop. Everything a session sends — updates, permission requests, file writes —
goes through its `Outbox`, one message after the other, so the editor sees them in the
order they were made (a tool call before the permission request about it, every update
of a turn before the turn's answer). `ClientLink` is that outbox with the session's id
and the client's methods, as the thread calls them.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from acp.schema import AllowedOutcome, PermissionOption, ToolCallUpdate

T = TypeVar("T")
Send = Callable[[], Awaitable[Any]]
POLL = 0.1   # seconds between looks at the cancel event while waiting for an answer


class ChannelClosed(ConnectionError):
    """The editor went away (or stopped waiting) before the message got its answer."""


@dataclass
class _Item:
    send: Send
    done: concurrent.futures.Future
    abandon: asyncio.Event | None   # set once the asker stops waiting (the turn was cancelled)


class Outbox:
    """Sends one message at a time, in the order they were posted. Make it on the loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._closed = False
        self._pump_task = self._loop.create_task(self._pump(), name="ama-acp-outbox")

    def post(self, send: Send) -> concurrent.futures.Future:
        """Queue `send()` (from any thread); the future holds what it returned."""
        return self._put(send, None)

    def ask(self, send: Send, cancel: threading.Event | None = None) -> Any:
        """Queue `send()` and wait for its answer (from a worker thread). None when
        `cancel` is set meanwhile; ChannelClosed when the connection closes."""
        if cancel is not None and cancel.is_set():
            return None   # a cancelled turn asks nothing more
        abandon = asyncio.Event() if cancel is not None else None
        done = self._put(send, abandon)
        while True:
            try:
                return done.result(timeout=POLL)
            except concurrent.futures.TimeoutError:
                if cancel is not None and cancel.is_set():
                    try:
                        self._loop.call_soon_threadsafe(abandon.set)
                    except RuntimeError:   # the loop is gone: nothing waits there either
                        pass
                    return None

    async def drain(self) -> None:
        """Wait until everything posted so far has been sent (on the loop)."""
        async def nothing() -> None:
            return None
        try:
            await asyncio.wrap_future(self.post(nothing))
        except ChannelClosed:
            pass

    async def close(self) -> None:
        """Stop sending; whatever still waits fails with ChannelClosed."""
        self._closed = True
        self._pump_task.cancel()
        try:
            await self._pump_task
        except asyncio.CancelledError:
            pass
        while not self._queue.empty():
            _fail(self._queue.get_nowait().done)

    def _put(self, send: Send, abandon: asyncio.Event | None) -> concurrent.futures.Future:
        done: concurrent.futures.Future = concurrent.futures.Future()
        if self._closed:
            _fail(done)
            return done
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, _Item(send, done, abandon))
        except RuntimeError:   # the loop is gone
            _fail(done)
        return done

    async def _pump(self) -> None:
        while True:
            item = await self._queue.get()
            if not item.done.set_running_or_notify_cancel():
                continue
            task = asyncio.ensure_future(item.send())
            waits: set[asyncio.Future] = {task}
            if item.abandon is not None:
                waits.add(asyncio.ensure_future(item.abandon.wait()))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                task.cancel()
                _fail(item.done)
                raise
            finally:
                for other in waits - {task}:
                    other.cancel()
            if not task.done():   # nobody waits for this answer any more
                task.add_done_callback(_forget)
                _fail(item.done)
            elif task.exception() is not None:
                error = task.exception()
                item.done.set_exception(ChannelClosed(str(error)) if isinstance(
                    error, ConnectionError) else error)
            else:
                item.done.set_result(task.result())


def _fail(done: concurrent.futures.Future) -> None:
    if not done.done():
        try:
            done.set_exception(ChannelClosed("the editor's connection is closed"))
        except concurrent.futures.InvalidStateError:   # it was never started
            pass


def _forget(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()   # retrieved, so asyncio does not warn about it


@dataclass
class ClientLink:
    """One session's way to the editor. `client` is the ACP connection (its Client
    methods); `can_write`: the editor takes `fs/write_text_file`."""
    client: Any
    session_id: str
    outbox: Outbox
    can_write: bool = False

    def update(self, update: Any) -> None:
        """Send a session/update (does not wait)."""
        self.outbox.post(lambda: self.client.session_update(session_id=self.session_id,
                                                            update=update))

    def permission(self, tool_call: ToolCallUpdate, options: list[PermissionOption],
                   cancel: threading.Event) -> str | None:
        """session/request_permission: the option id the user chose; None when they
        cancelled, the turn was cancelled, or the editor is gone."""
        try:
            answer = self.outbox.ask(lambda: self.client.request_permission(
                session_id=self.session_id, tool_call=tool_call, options=options), cancel)
        except ChannelClosed:
            return None
        if answer is None or not isinstance(answer.outcome, AllowedOutcome):
            return None
        return answer.outcome.option_id

    def write_text(self, path: Path, text: str) -> None:
        """fs/write_text_file: the editor writes `path` (its open buffer too).
        ChannelClosed or the editor's error when it could not."""
        self.outbox.ask(lambda: self.client.write_text_file(
            session_id=self.session_id, path=str(path), content=text))
