"""The events the core emits. The loop never prints: renderers, the JSON outputs,
the session log and the tests all consume this stream.

Every event is a frozen dataclass with a `type` tag and `to_dict()` (JSON-safe). An
event a subagent emitted carries `parent_call_id`: the id of the `task` call that runs it
(set by the parent as the event passes through: agent/core/subagent.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Mapping


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"
    parent_call_id: str = field(default="", kw_only=True)   # "": the top-level agent's

    def to_dict(self) -> dict[str, Any]:
        """`type`, then `parent_call_id` only when set, then the event's own fields."""
        fields = asdict(self)
        parent = fields.pop("parent_call_id")
        return {"type": self.type, **({"parent_call_id": parent} if parent else {}), **fields}

    def nested_in(self, call_id: str) -> "Event":
        """This event as one of the subagent that `call_id` runs; an event already tagged
        (a deeper subagent's) keeps its own parent."""
        return self if self.parent_call_id else dataclasses.replace(self, parent_call_id=call_id)


@dataclass(frozen=True)
class SessionStarted(Event):
    type: ClassVar[str] = "session_started"
    session_id: str
    model: str
    cwd: str
    sandbox: str
    workspace: str
    root: str = ""          # the repository root (what --continue matches on)
    resumed: bool = False   # this run continues an earlier one in the same log
    mcp_servers: tuple[Mapping[str, Any], ...] = ()   # {name, status, tools} of each server


@dataclass(frozen=True)
class UserMessage(Event):
    type: ClassVar[str] = "user_message"
    text: str


@dataclass(frozen=True)
class TurnStarted(Event):
    type: ClassVar[str] = "turn_started"
    turn: int


@dataclass(frozen=True)
class TextDelta(Event):
    type: ClassVar[str] = "text_delta"
    text: str


@dataclass(frozen=True)
class ThinkingDelta(Event):
    type: ClassVar[str] = "thinking_delta"
    text: str


@dataclass(frozen=True)
class AssistantMessage(Event):
    """The complete assistant turn, as recorded in the conversation."""
    type: ClassVar[str] = "assistant_message"
    message: Mapping[str, Any]


@dataclass(frozen=True)
class ToolCallProposed(Event):
    type: ClassVar[str] = "tool_call"
    call_id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class ApprovalRequested(Event):
    type: ClassVar[str] = "approval_requested"
    call_id: str
    name: str
    arguments: Mapping[str, Any]
    reason: str


@dataclass(frozen=True)
class PermissionDenied(Event):
    type: ClassVar[str] = "permission_denied"
    call_id: str
    name: str
    arguments: Mapping[str, Any]
    reason: str


@dataclass(frozen=True)
class ToolFinished(Event):
    type: ClassVar[str] = "tool_result"
    call_id: str
    name: str
    output: str
    is_error: bool
    summary: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    duration: float = 0.0


@dataclass(frozen=True)
class HookRan(Event):
    """One hook command ran (agent/core/hooks.py).

    event:    the hook event (PreToolUse, Stop, …); command: the hook's command.
    outcome:  ok | blocked | failed | timed_out.
    exit_code: its exit status (None: killed at its timeout, or never started).
    decision: what it decided: allow | ask | deny (PreToolUse), block, or "".
    message:  the reason it gave, or what went wrong.
    call_id:  the tool call, for PreToolUse and PostToolUse.
    updated_input: the tool input a PreToolUse hook rewrote the call to, or None.
    """
    type: ClassVar[str] = "hook"
    event: str
    command: str
    outcome: str
    exit_code: int | None
    duration: float
    decision: str = ""
    message: str = ""
    call_id: str = ""
    updated_input: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Checkpoint(Event):
    type: ClassVar[str] = "checkpoint"
    ref: str
    commit: str
    call_id: str


@dataclass(frozen=True)
class ChangeSetReady(Event):
    type: ClassVar[str] = "change_set"
    files: tuple[Mapping[str, Any], ...]
    patch: str


@dataclass(frozen=True)
class UsageEvent(Event):
    type: ClassVar[str] = "usage"
    turn: int
    usage: Mapping[str, Any]
    total: Mapping[str, Any]


@dataclass(frozen=True)
class Notice(Event):
    """Something the user should see that is not an error (a retry, a warning)."""
    type: ClassVar[str] = "notice"
    level: str
    message: str


@dataclass(frozen=True)
class VerificationStarted(Event):
    type: ClassVar[str] = "verification_started"
    command: str
    attempt: int


@dataclass(frozen=True)
class VerificationFinished(Event):
    type: ClassVar[str] = "verification"
    command: str
    passed: bool
    exit_code: int
    output_tail: str


@dataclass(frozen=True)
class Compacted(Event):
    """Older turns were replaced by a summary. `messages` is the whole conversation
    after compaction (system prompt excluded), so a resumed session can rebuild it."""
    type: ClassVar[str] = "compacted"
    summary: str
    messages: tuple[Mapping[str, Any], ...]
    tokens_before: int
    tokens_after: int


@dataclass(frozen=True)
class TurnEnded(Event):
    type: ClassVar[str] = "turn_ended"
    turn: int
    stop_reason: str


@dataclass(frozen=True)
class ErrorEvent(Event):
    type: ClassVar[str] = "error"
    message: str
    subtype: str


@dataclass(frozen=True)
class InternalError(Event):
    """A bug ended the run: the traceback, for the session log (`ama sessions show`)."""
    type: ClassVar[str] = "traceback"
    text: str


EventSink = Callable[[Event], None]


def top_level(sink: EventSink) -> EventSink:
    """`sink`, handed only the top-level agent's events (not its subagents')."""
    def emit(event: Event) -> None:
        if not event.parent_call_id:
            sink(event)
    return emit


def fan_out(*sinks: EventSink) -> EventSink:
    """One sink that hands each event to every sink in order."""
    def emit(event: Event) -> None:
        for sink in sinks:
            sink(event)
    return emit
