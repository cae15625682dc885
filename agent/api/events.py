"""The events `Session.stream` and `Session.astream` yield, typed: match on the class.

    Text, Thinking     the model's answer and reasoning, piece by piece as they stream
    ToolUse            a tool call the model made (also what your approver is shown)
    Approval           a call a rule asks about; your approver answers it next
    Denied             a call refused (a rule, plan mode, your approver)
    ToolResult         what a tool returned
    TurnStarted, TurnEnded, UsageUpdate   one model turn, and its tokens and cost
    ChangesReady       the change set when the task ended
    Verified           a --verify run
    Notice, Error      what the user should see; what ended the task
    Other              every other event of the session log (checkpoints, hooks,
                       compaction, …), as its type and JSON fields
    Finished           the last event of a task: its Result

Each is frozen; `type` is the session log's name for it (`ama sessions show`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Mapping, Union

from agent.api.records import Changes, Result, Usage, changes_of, frozen, usage_of
from agent.core import events as ev


@dataclass(frozen=True)
class Text:
    type: ClassVar[str] = "text_delta"
    text: str


@dataclass(frozen=True)
class Thinking:
    type: ClassVar[str] = "thinking_delta"
    text: str


@dataclass(frozen=True)
class ToolUse:
    type: ClassVar[str] = "tool_call"
    call_id: str
    name: str
    arguments: Mapping[str, object]


@dataclass(frozen=True)
class Approval:
    type: ClassVar[str] = "approval_requested"
    call_id: str
    name: str
    arguments: Mapping[str, object]
    reason: str


@dataclass(frozen=True)
class Denied:
    type: ClassVar[str] = "permission_denied"
    call_id: str
    name: str
    arguments: Mapping[str, object]
    reason: str


@dataclass(frozen=True)
class ToolResult:
    type: ClassVar[str] = "tool_result"
    call_id: str
    name: str
    output: str
    is_error: bool
    summary: str
    duration: float


@dataclass(frozen=True)
class TurnStarted:
    type: ClassVar[str] = "turn_started"
    turn: int


@dataclass(frozen=True)
class TurnEnded:
    type: ClassVar[str] = "turn_ended"
    turn: int
    stop_reason: str


@dataclass(frozen=True)
class UsageUpdate:
    """`usage`: this turn's; `total`: the session's so far."""
    type: ClassVar[str] = "usage"
    turn: int
    usage: Usage
    total: Usage


@dataclass(frozen=True)
class ChangesReady:
    type: ClassVar[str] = "change_set"
    changes: Changes


@dataclass(frozen=True)
class Verified:
    type: ClassVar[str] = "verification"
    command: str
    passed: bool
    exit_code: int
    output_tail: str


@dataclass(frozen=True)
class Notice:
    """level: debug | info | warning."""
    type: ClassVar[str] = "notice"
    level: str
    message: str


@dataclass(frozen=True)
class Error:
    type: ClassVar[str] = "error"
    message: str
    subtype: str


@dataclass(frozen=True)
class Other:
    type: str
    data: Mapping[str, object]


@dataclass(frozen=True)
class Finished:
    type: ClassVar[str] = "result"
    result: Result


Event = Union[Text, Thinking, ToolUse, Approval, Denied, ToolResult, TurnStarted, TurnEnded,
              UsageUpdate, ChangesReady, Verified, Notice, Error, Other, Finished]

_CONVERT: dict[type, Callable[..., Event]] = {
    ev.TextDelta: lambda e: Text(e.text),
    ev.ThinkingDelta: lambda e: Thinking(e.text),
    ev.ToolCallProposed: lambda e: ToolUse(e.call_id, e.name, frozen(e.arguments)),
    ev.ApprovalRequested: lambda e: Approval(e.call_id, e.name, frozen(e.arguments), e.reason),
    ev.PermissionDenied: lambda e: Denied(e.call_id, e.name, frozen(e.arguments), e.reason),
    ev.ToolFinished: lambda e: ToolResult(e.call_id, e.name, e.output, e.is_error, e.summary,
                                          e.duration),
    ev.TurnStarted: lambda e: TurnStarted(e.turn),
    ev.TurnEnded: lambda e: TurnEnded(e.turn, e.stop_reason),
    ev.UsageEvent: lambda e: UsageUpdate(e.turn, usage_of(e.usage), usage_of(e.total)),
    ev.ChangeSetReady: lambda e: ChangesReady(changes_of(e.files, e.patch)),
    ev.VerificationFinished: lambda e: Verified(e.command, e.passed, e.exit_code, e.output_tail),
    ev.Notice: lambda e: Notice(e.level, e.message),
    ev.ErrorEvent: lambda e: Error(e.message, e.subtype),
}


def event_of(event: ev.Event) -> Event:
    """The API's event for one of the core's (agent/core/events.py)."""
    convert = _CONVERT.get(type(event))
    if convert is not None:
        return convert(event)
    data = event.to_dict()
    data.pop("type", None)
    return Other(event.type, frozen(data))
