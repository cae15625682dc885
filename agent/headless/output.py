"""What a headless run hands over: the change set applied per `--apply` (or written to
`--patch-out`), and the run on stdout in the chosen format (`make_output`):

    text        the final answer
    json        the result object
    stream-json Claude Code's messages, one a line (agent/headless/claude_stream.py)
    ama-events  ama's events, one a line (agent/core/events.py), the result object last
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol, TextIO

from agent.core import events as ev
from agent.core.errors import AmaError
from agent.headless.claude_stream import ClaudeStream
from agent.session.apply import apply_change_set, write_patch
from agent.session.options import RunRequest, SessionOptions
from agent.session.result import RunResult

if TYPE_CHECKING:
    from agent.session.session import Session


class Output(Protocol):
    """Where a headless run goes on stdout: an event sink, told when a turn of an open
    session starts (`ready`) and how each run ended (`result`, the result object)."""

    def __call__(self, event: ev.Event) -> None: ...
    def ready(self, session: "Session") -> None: ...
    def result(self, record: Mapping[str, Any]) -> None: ...


class ResultOnly:
    """text and json: nothing while it runs, then the answer or the result object."""

    def __init__(self, out: TextIO, fmt: str) -> None:
        self.out, self.fmt = out, fmt

    def __call__(self, event: ev.Event) -> None:
        pass

    def ready(self, session: "Session") -> None:
        pass

    def result(self, record: Mapping[str, Any]) -> None:
        write_result(self.out, self.fmt, dict(record))


class EventLines(ResultOnly):
    """ama-events: every event a line (its `to_dict()`), then the result object."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out, "ama-events")

    def __call__(self, event: ev.Event) -> None:
        write_line(self.out, event.to_dict())


def make_output(out: TextIO, fmt: str, session_id: str, options: SessionOptions) -> Output:
    """The Output for `--output-format fmt` (one of OUTPUT_FORMATS)."""
    if fmt == "stream-json":
        return ClaudeStream(out, session_id, options)
    return EventLines(out) if fmt == "ama-events" else ResultOnly(out, fmt)


def deliver(result: RunResult, request: RunRequest, user_root: Path) -> RunResult:
    """A run that succeeded with changes is applied per --apply; otherwise --patch-out
    still gets the diff, unless an untrusted run touched protected files. Returns the
    record with `applied` filled in (or failed, if applying did)."""
    from agent.headless.untrusted import protected_paths
    cs = result.change_set
    if cs is None:
        return result
    if not result.is_error and not cs.empty:
        try:
            applied = apply_change_set(cs, user_root, request.apply, patch_out=request.patch_out,
                                       message=result.result or request.task,
                                       author=request.author)
        except AmaError as e:
            return result.failed(e)
        return dataclasses.replace(result, applied=applied)
    if (request.apply == "patch" and request.patch_out is not None
            and not (request.untrusted and protected_paths(cs))):
        try:
            write_patch(cs, request.patch_out)
        except AmaError as e:   # the run's own error, if it had one, says more
            return result if result.is_error else result.failed(e)
    return result


def write_line(out: TextIO, obj: dict) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    out.flush()


def write_result(out: TextIO, fmt: str, result: dict) -> None:
    """The result object as a line (json, ama-events), or the final answer (text)."""
    if fmt in ("json", "ama-events"):
        write_line(out, result)
    else:
        out.write((result["result"] or "").rstrip() + "\n")
        out.flush()
