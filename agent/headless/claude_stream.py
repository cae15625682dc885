"""`--output-format stream-json`: ama's events as the messages Claude Code writes, one a
line, so tools written for Claude Code (its `stream-json`, the Agent SDK's message
parser) read ama's output unchanged.

    {"type": "system", "subtype": "init", ...}     the session: id, cwd, model, tools,
                                                   MCP servers, permission mode
    {"type": "assistant", "message": {...}}        a model turn: thinking, text, tool_use
    {"type": "user", "message": {...}}             tool results; feedback the model was sent
    {"type": "system", "subtype": "ama_…"}         ama's own events (checkpoint, change_set,
                                                   verification, notice, …); hooks are
                                                   `hook_response`, compaction `compact_boundary`
    {"type": "result", "subtype": ..., ...}        how the run (or turn) ended

Every line has `session_id` and `uuid`. Unlike Claude Code, `subtype` of a result is
ama's (agent/session/result.py): a failed run never says "success". README.md
("stream-json") lists every field.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Mapping, TextIO

from agent.core import events as ev

if TYPE_CHECKING:
    from agent.session.options import SessionOptions
    from agent.session.session import Session

PERMISSION_MODES = {"default": "default", "plan": "plan", "bypass": "bypassPermissions"}
_RESERVED = ("type", "subtype", "session_id", "uuid")
# Events whose content is in the assistant and user messages, or that only the log keeps.
_FOLDED = (ev.TextDelta, ev.ThinkingDelta, ev.ToolCallProposed, ev.TurnStarted,
           ev.TurnEnded, ev.UsageEvent, ev.InternalError, ev.SessionStarted)


class ClaudeStream:
    """An event sink writing Claude Code's stream-json to `out`.

    Lines are held back until `ready(session)` writes the `init` message (whose tool list
    exists only once the session is open), so `init` is always first. `ready` is called
    before each turn (Claude Code repeats `init` per turn); `result(record)` writes the
    result object of one run."""

    def __init__(self, out: TextIO, session_id: str, options: "SessionOptions") -> None:
        self.out, self.session_id, self.options = out, session_id, options
        self._lock = threading.Lock()
        self._started: ev.SessionStarted | None = None
        self._session: "Session | None" = None
        self._held: list[dict[str, Any]] | None = []    # lines before the first init
        self._pending: dict[str | None, tuple[Mapping[str, Any], Mapping | None]] = {}
        self._usage: dict[str | None, Mapping[str, Any]] = {}
        self._thinking: dict[str | None, list[str]] = {}   # streamed, for providers that
                                                           # do not keep it in the message
        self._clock: dict[str | None, float] = {}
        self._api_seconds = 0.0
        self._stop_reason: str | None = None
        self._task_seen = False

    # ---- the sink ----------------------------------------------------------------------

    def __call__(self, event: ev.Event) -> None:
        parent = event.parent_call_id or None   # a subagent's: the task call that runs it
        if isinstance(event, ev.TurnEnded) and parent in self._pending:
            self._write(self._assistant(parent, event.stop_reason))
        else:
            self._flush_pending()
        if isinstance(event, ev.SessionStarted):
            self._started = event
            self.session_id = event.session_id
        elif isinstance(event, ev.TurnStarted):
            self._clock[parent] = time.monotonic()
            self._thinking.pop(parent, None)
        elif isinstance(event, ev.ThinkingDelta):
            self._thinking.setdefault(parent, []).append(event.text)
        elif isinstance(event, ev.TurnEnded) and parent is None:
            self._stop_reason = event.stop_reason
        elif isinstance(event, ev.UsageEvent):
            self._usage[parent] = event.usage
        elif isinstance(event, ev.AssistantMessage):
            self._api_seconds += time.monotonic() - self._clock.pop(parent, time.monotonic())
            message, thought = event.message, "".join(self._thinking.pop(parent, ()))
            if thought and not message.get("reasoning"):
                message = {**message, "reasoning": [{"text": thought}]}
            self._pending[parent] = (message, self._usage.pop(parent, None))
        elif isinstance(event, ev.ToolFinished):
            self._write(tool_result_message(event, parent))
        elif isinstance(event, ev.UserMessage):
            if parent is None and not self._task_seen:   # the task itself: not echoed,
                self._task_seen = True                     # as Claude Code does not
            else:
                self._write(user_text_message(event.text, parent))
        elif not isinstance(event, _FOLDED):
            self._write(system_message(event, parent))

    # ---- what the front end calls -------------------------------------------------------

    def ready(self, session: "Session") -> None:
        """The session is open and a turn starts: its `init`, then anything held back."""
        self._session = session
        self._write(self._init(session), first=True)
        self._task_seen = False

    def result(self, record: Mapping[str, Any]) -> None:
        """The result object of one run (`RunResult.to_dict()`), Claude-shaped."""
        self._flush_pending()
        if self._held is not None:    # the session never opened: init from what is known
            self._write(self._init(None), first=True)
        self._write(claude_result(record, self._api_seconds, self._stop_reason))
        self._api_seconds, self._stop_reason, self._task_seen = 0.0, None, False
        self._clock.clear()

    # ---- building messages -------------------------------------------------------------

    def _init(self, session: "Session | None") -> dict[str, Any]:
        o, started = self.options, self._started
        servers = session.mcp_servers if session is not None else \
            (started.mcp_servers if started is not None else ())
        mode = session.agent.permissions.mode if session is not None else o.permission_mode
        init: dict[str, Any] = {
            "type": "system", "subtype": "init", "session_id": self.session_id,
            "cwd": str(o.cwd), "model": session.model if session is not None else o.model,
            "tools": [t.name for t in session.agent.tools] if session is not None else [],
            "mcp_servers": [{"name": s["name"], "status": s["status"],
                             **{k: s[k] for k in ("tools", "error") if k in s}} for s in servers],
            "permissionMode": PERMISSION_MODES.get(mode, mode),
            "slash_commands": sorted(o.commands), "skills": [s.name for s in o.skills],
        }
        if started is not None:
            init.update(sandbox=started.sandbox, workspace=started.workspace, root=started.root,
                        resumed=started.resumed)
        return init

    def _assistant(self, parent: str | None, stop_reason: str | None) -> dict[str, Any]:
        message, usage = self._pending.pop(parent)
        return {"type": "assistant",
                "message": {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message",
                            "role": "assistant", "model": self._model(),
                            "content": assistant_content(message), "stop_reason": stop_reason,
                            "stop_sequence": None, "usage": anthropic_usage(usage or {})},
                "parent_tool_use_id": parent}

    def _model(self) -> str:
        """The model in use now (a custom command may switch it for its turn)."""
        return self._session.model if self._session is not None else self.options.model

    def _flush_pending(self) -> None:
        for parent in list(self._pending):
            self._write(self._assistant(parent, None))

    def _write(self, obj: dict[str, Any], first: bool = False) -> None:
        line = {**obj, "session_id": obj.get("session_id", self.session_id),
                "uuid": str(uuid.uuid4())}
        with self._lock:
            if self._held is not None and not first:
                self._held.append(line)
                return
            held, self._held = self._held or [], None
            for each in (line, *held):
                self.out.write(json.dumps(each, ensure_ascii=False, default=str) + "\n")
            self.out.flush()


def assistant_content(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Anthropic content blocks of an assistant message (`Message.to_dict()`):
    thinking first, then the text, then each tool call."""
    blocks: list[dict[str, Any]] = []
    for r in message.get("reasoning", ()):
        blocks.append({"type": "redacted_thinking", "data": r["text"]} if r.get("redacted")
                      else {"type": "thinking", "thinking": r["text"],
                            "signature": r.get("signature") or ""})
    if message.get("content"):
        blocks.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls", ()):
        blocks.append({"type": "tool_use", "id": call["id"], "name": call["name"],
                       "input": dict(call.get("arguments") or {})})
    return blocks


def tool_result_message(e: ev.ToolFinished, parent: str | None) -> dict[str, Any]:
    """A tool's result as Claude Code sends it: a user message with a tool_result block;
    `tool_use_result` holds ama's summary and data of the call."""
    return {"type": "user",
            "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": e.call_id, "content": e.output,
                 "is_error": e.is_error}]},
            "parent_tool_use_id": parent,
            "tool_use_result": {"name": e.name, "summary": e.summary, "data": dict(e.data),
                                "duration_ms": int(e.duration * 1000)}}


def user_text_message(text: str, parent: str | None) -> dict[str, Any]:
    """A message the model was sent within the run (--verify's failure, a Stop hook's
    reason, a subagent's task)."""
    return {"type": "user",
            "message": {"role": "user", "content": [{"type": "text", "text": text}]},
            "parent_tool_use_id": parent}


def system_message(e: ev.Event, parent: str | None) -> dict[str, Any]:
    """One of ama's own events as a `system` message: hooks as Claude Code's
    `hook_response`, compaction as its `compact_boundary`, every other event as
    `ama_<type>` with the event's fields (one named like a message key gets the
    event's type in front: an `error` event's subtype is `error_subtype`)."""
    fields = {k: v for k, v in e.to_dict().items() if k != "type"}
    if isinstance(e, ev.HookRan):
        head = {"subtype": "hook_response", "hook_event": e.event, "hook_name": e.event,
                "output": e.message, "exit_code": e.exit_code, "outcome": e.outcome,
                "duration_ms": int(e.duration * 1000)}
        fields = {k: v for k, v in fields.items() if k not in ("event", "duration", "message")}
    elif isinstance(e, ev.Compacted):
        head = {"subtype": "compact_boundary",
                "compact_metadata": {"pre_tokens": e.tokens_before, "post_tokens": e.tokens_after},
                "summary": e.summary}
        fields = {}   # the conversation it left is in the session log
    else:
        head = {"subtype": f"ama_{e.type}"}
        fields = {(f"{e.type}_{k}" if k in _RESERVED else k): v for k, v in fields.items()}
    return {"type": "system", **head, **fields,
            **({"parent_tool_use_id": parent} if parent is not None else {})}


def anthropic_usage(usage: Mapping[str, Any]) -> dict[str, int]:
    """ama's token counts under the Anthropic API's names."""
    return {"input_tokens": int(usage.get("input_tokens", 0)),
            "output_tokens": int(usage.get("output_tokens", 0)),
            "cache_read_input_tokens": int(usage.get("cache_read_tokens", 0)),
            "cache_creation_input_tokens": int(usage.get("cache_write_tokens", 0))}


def claude_result(record: Mapping[str, Any], api_seconds: float = 0.0,
                  stop_reason: str | None = None) -> dict[str, Any]:
    """The result object (agent/session/result.py) as Claude Code's `result` message:
    its fields first (`usage` under the Anthropic names, `duration_api_ms` the time spent
    waiting on the model, `errors` the error's message), then ama's own (`model`,
    `changes`, `applied`, `verification`, `mcp_servers`, …)."""
    head = {
        "type": "result", "subtype": record["subtype"], "is_error": record["is_error"],
        "duration_ms": record["duration_ms"], "duration_api_ms": int(api_seconds * 1000),
        "num_turns": record["num_turns"], "result": record["result"],
        "session_id": record["session_id"], "total_cost_usd": record["total_cost_usd"],
        "usage": anthropic_usage(record.get("usage") or {}),
        "permission_denials": record.get("permission_denials", []),
        "stop_reason": stop_reason,
    }
    if record["is_error"]:
        head["errors"] = [record["result"]]
    return {**head, **{k: v for k, v in record.items() if k not in head}}
