"""The planner loop: instruction → model → tool calls → results → model … until the
model answers without a tool call, a limit is hit, or the user interrupts.

It emits events and never prints. A tool's ToolError goes back to the model as that
call's result; any other exception from a tool ends the run with a clear error.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from pydantic import ValidationError

from agent.core import events as ev
from agent.core.errors import (AmaError, Interrupted, LimitReached, RuntimeFailure, StreamInterrupted,
                          VerificationFailed)
from agent.core.permissions import Permissions
from agent.core.types import (Done, Message, Model, ModelSettings, TextDelta, ThinkingDelta,
                         ToolCall, ToolCallDone, Usage)
from tools.base import Tool, ToolContext, ToolError, tool_spec

if TYPE_CHECKING:
    from agent.core.compaction import Compactor
    from agent.core.verify import Verifier

Approver = Callable[[ToolCall, str], bool]   # asked when a rule says "ask"; True = allow


@dataclass
class Limits:
    max_turns: int | None = 50          # model calls in one run
    max_seconds: float | None = None    # wall time of one run
    max_cost_usd: float | None = None   # summed over the session


@dataclass
class Outcome:
    """How a run ended. `subtype` is the result object's subtype."""
    subtype: str
    result: str
    num_turns: int
    error: AmaError | None = None

    @property
    def is_error(self) -> bool:
        return self.subtype != "success"


@dataclass
class Agent:
    model: Model
    tools: list[Tool]
    ctx: ToolContext
    emit: ev.EventSink
    system_prompt: str
    settings: ModelSettings = field(default_factory=ModelSettings)
    limits: Limits = field(default_factory=Limits)
    permissions: Permissions = field(default_factory=Permissions)
    approve: Approver | None = None              # None: an "ask" is a denial (headless)
    on_mutation: Callable[[ToolCall], None] | None = None   # e.g. checkpoint the workspace
    verifier: "Verifier | None" = None           # --verify: the run is done when it passes
    compactor: "Compactor | None" = None         # summarises older turns near the context window
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    denials: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.messages:
            self.messages.append(Message("system", self.system_prompt))
        self._tools = {t.name: t for t in self.tools}
        self._specs = [tool_spec(t) for t in self.tools]

    # ---- run: the whole loop ------------------------------------------------------

    def run(self, instruction: str) -> Outcome:
        self.messages.append(Message("user", instruction))
        self.emit(ev.UserMessage(instruction))
        started, turns = time.monotonic(), 0
        try:
            while True:
                self._check_limits(turns, started)
                turns += 1
                self.emit(ev.TurnStarted(turns))
                if self.compactor is not None:
                    self.messages[:] = self.compactor.maybe_compact(self.messages)
                    self.usage = self.usage + self.compactor.take_spent()
                reply, stop_reason = self._query(turns)
                self.messages.append(reply)
                self.emit(ev.TurnEnded(turns, stop_reason))
                if not reply.tool_calls:
                    if self._done():
                        return Outcome("success", reply.content, turns)
                    continue  # verification failed: its output is the next message
                for i, call in enumerate(reply.tool_calls):
                    if self.ctx.cancel.is_set():
                        self._answer_interrupted(reply.tool_calls[i:])
                        raise Interrupted("interrupted by the user")
                    self.messages.append(self._execute(call))
        except AmaError as e:
            self.emit(ev.ErrorEvent(e.message, e.subtype))
            return Outcome(e.subtype, e.message, turns, error=e)

    def _done(self) -> bool:
        """The model stopped calling tools. Done, unless --verify fails: then its output
        goes back to the model (VerificationFailed once the budget is spent)."""
        if self.verifier is None:
            return True
        self.emit(ev.VerificationStarted(self.verifier.command, len(self.verifier.runs) + 1))
        passed, feedback = self.verifier()
        run = self.verifier.runs[-1]
        self.emit(ev.VerificationFinished(self.verifier.command, passed, run["exit_code"],
                                          run["output_tail"]))
        if passed:
            return True
        if self.verifier.exhausted:
            raise VerificationFailed(f"verification `{self.verifier.command}` still fails "
                                     f"after {len(self.verifier.runs)} attempts")
        self.messages.append(Message("user", feedback))
        self.emit(ev.UserMessage(feedback))
        return False

    def _check_limits(self, turns: int, started: float) -> None:
        lim = self.limits
        if self.ctx.cancel.is_set():
            raise Interrupted("interrupted by the user")
        if lim.max_turns is not None and turns >= lim.max_turns:
            raise LimitReached(f"reached --max-turns {lim.max_turns} before the model finished; "
                               f"raise it to let the run go on", "error_max_turns")
        if lim.max_seconds is not None and time.monotonic() - started >= lim.max_seconds:
            raise LimitReached(f"reached the time limit of {lim.max_seconds:g}s", "error_max_time")
        if lim.max_cost_usd is not None and self.usage.cost_usd >= lim.max_cost_usd:
            raise LimitReached(f"reached --max-cost ${lim.max_cost_usd:g} "
                               f"(spent ${self.usage.cost_usd:.4f})", "error_max_cost")

    # ---- query: one model turn ----------------------------------------------------

    def _query(self, turn: int) -> tuple[Message, str]:
        retries = 0
        while True:
            try:
                return self._stream_turn(turn)
            except StreamInterrupted as e:  # partial output was shown, never recorded: retry
                if retries >= len(e.retry_delays):
                    raise StreamInterrupted(f"{e.message} (gave up after {retries + 1} attempts)",
                                            e.retry_delays) from e
                self.emit(ev.Notice("warning", f"model stream cut off ({e.message}); "
                                               f"retrying the turn"))
                if self.ctx.cancel.wait(e.retry_delays[retries]):
                    raise Interrupted("interrupted by the user") from None
                retries += 1

    def _stream_turn(self, turn: int) -> tuple[Message, str]:
        text: list[str] = []
        calls: dict[int, ToolCall] = {}
        done = Done()
        stream = self.model.stream(list(self.messages), self._specs, self.settings)
        try:
            for event in stream:
                if self.ctx.cancel.is_set():
                    raise Interrupted("interrupted by the user")
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    self.emit(ev.TextDelta(event.text))
                elif isinstance(event, ThinkingDelta):
                    self.emit(ev.ThinkingDelta(event.text))
                elif isinstance(event, ToolCallDone):
                    calls[event.index] = event.call
                elif isinstance(event, Usage):
                    self.usage = self.usage + event
                    self.emit(ev.UsageEvent(turn, event.to_dict(), self.usage.to_dict()))
                elif isinstance(event, Done):
                    done = event
        finally:
            stream.close()
        reply = Message("assistant", "".join(text),
                        tool_calls=tuple(calls[i] for i in sorted(calls)), reasoning=done.reasoning)
        self.emit(ev.AssistantMessage(reply.to_dict()))
        return reply, done.stop_reason

    # ---- execute: one tool call ---------------------------------------------------

    def _execute(self, call: ToolCall) -> Message:
        self.emit(ev.ToolCallProposed(call.id, call.name, dict(call.arguments)))
        started = time.monotonic()
        try:
            tool, args, mutating = self._prepare(call)
            try:
                result = tool.run(args, self.ctx)
            finally:  # checkpoint even when the tool failed halfway
                if mutating and self.on_mutation is not None:
                    self.on_mutation(call)
        except ToolError as e:
            self.emit(ev.ToolFinished(call.id, call.name, e.message, True,
                                      duration=time.monotonic() - started))
            return Message("tool", e.message, tool_call_id=call.id, name=call.name, is_error=True)
        except AmaError:
            raise
        except Exception as e:  # a bug or a broken sandbox: not the model's to fix
            raise RuntimeFailure(f"tool {call.name} failed: {type(e).__name__}: {e}") from e
        self.emit(ev.ToolFinished(call.id, call.name, result.output, False, result.summary,
                                  dict(result.data), time.monotonic() - started))
        return Message("tool", result.output, tool_call_id=call.id, name=call.name,
                       images=result.images)

    def _prepare(self, call: ToolCall):
        """Look up, validate and permission-check a call: (tool, args, mutating), or a
        ToolError if it must not run."""
        if call.arguments_error:
            raise ToolError(f"{call.name} was not run: {call.arguments_error}; send the "
                            f"arguments again as one JSON object")
        tool = self._tools.get(call.name)
        if tool is None:
            raise ToolError(f"unknown tool {call.name!r}; available: {', '.join(self._tools)}")
        try:
            args = tool.params.model_validate(dict(call.arguments))
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'arguments'}: {err['msg']}"
                                 for err in e.errors())
            raise ToolError(f"invalid arguments for {call.name}: {problems}") from None
        mutating = tool.is_mutating(args)
        action, reason = self.permissions.decide(call.name, call.arguments, mutating,
                                                 can_ask=self.approve is not None)
        if action == "ask":
            self.emit(ev.ApprovalRequested(call.id, call.name, dict(call.arguments), reason))
            if self.approve is not None and self.approve(call, reason):
                action = "allow"
            else:
                action, reason = "deny", f"{reason}; not approved" if self.approve else \
                    f"{reason}; no one to ask in headless mode"
        if action == "deny":
            self.denials.append({"tool_name": call.name, "tool_use_id": call.id,
                                 "tool_input": dict(call.arguments), "reason": reason})
            self.emit(ev.PermissionDenied(call.id, call.name, dict(call.arguments), reason))
            raise ToolError(f"permission denied: {reason}. Do not retry this call; "
                            f"find another way or tell the user what you needed")
        return tool, args, mutating

    def _answer_interrupted(self, calls) -> None:
        for call in calls:
            self.messages.append(Message("tool", "not run: the user interrupted",
                                         tool_call_id=call.id, name=call.name, is_error=True))
