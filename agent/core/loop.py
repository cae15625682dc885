"""The planner loop: instruction → model → tool calls → results → model … until the
model answers without a tool call, a limit is hit, or the user interrupts.

It emits events and never prints. A tool's ToolError goes back to the model as that
call's result; any other exception from a tool ends the run with a clear error.

The tool calls of a turn are checked and run by `ToolDispatch` (agent/core/dispatch.py),
which the Agent is made of: every call through the same hooks and permission rules. A
child agent made with `spawn` shares the parent's permissions, hooks and approver, so its
calls pass the same checks; its turns, cost and time come out of the parent's limits, and
`absorb` counts them as the parent's.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from agent.core import events as ev
from agent.core.dispatch import ToolDispatch
from agent.core.errors import AmaError, Interrupted, LimitReached, StreamInterrupted, VerificationFailed
from agent.core.hooks import HookBlocked, HookRunner, Verdict
from agent.core.permissions import Permissions
from agent.core.types import (Done, Message, Model, ModelSettings, TextDelta, ThinkingDelta,
                         ToolCall, ToolCallDone, Usage)
from tools.base import Tool, ToolContext, tool_spec

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
    """How a run ended. `subtype` is the result object's subtype; `num_turns` counts its
    subagents' model turns too."""
    subtype: str
    result: str
    num_turns: int
    error: AmaError | None = None

    @property
    def is_error(self) -> bool:
        return self.subtype != "success"


@dataclass
class Agent(ToolDispatch):
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
    hooks: HookRunner | None = None              # the user's hooks (agent/core/hooks.py)
    is_subagent: bool = False                    # a child: its end is SubagentStop, no prompt hooks
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    denials: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.messages:
            self.messages.append(Message("system", self.system_prompt))
        self._tools = {t.name: t for t in self.tools}
        self._specs = [tool_spec(t) for t in self.tools]
        self._context: list[tuple[str, str]] = []   # (event, text) hooks added for the next message
        self._stop_returns = 0                     # times Stop hooks sent the model back this run
        self.turns = 0                             # this agent's model turns this run
        self.child_turns = 0                       # its subagents' model turns this run
        self.started = time.monotonic()            # when this run started
        self._lock = threading.Lock()              # children finishing side by side (`absorb`)

    def spawn(self, *, model: Model, tools: list[Tool], system_prompt: str, emit: ev.EventSink,
              limits: Limits | None = None) -> "Agent":
        """A child agent (a subagent) on the same workspace, sandbox and cancel event, with
        a fresh conversation. It shares this agent's permissions, approver and hooks: every
        call it makes goes through the same `_prepare`. Its limits default to what is left
        of this run's (`remaining_limits`); `absorb` it when it is done."""
        return Agent(model=model, tools=tools, ctx=self.ctx, emit=emit, system_prompt=system_prompt,
                     settings=self.settings, limits=limits or self.remaining_limits(),
                     permissions=self.permissions, approve=self.approve,
                     on_mutation=self.on_mutation, hooks=self.hooks, is_subagent=True)

    def remaining_limits(self) -> Limits:
        """What is left now of this run's turns, seconds and cost: a child's budget."""
        lim = self.limits
        with self._lock:
            turns, cost = self.turns + self.child_turns, self.usage.cost_usd
        return Limits(
            max_turns=None if lim.max_turns is None else lim.max_turns - turns,
            max_seconds=None if lim.max_seconds is None else
            lim.max_seconds - (time.monotonic() - self.started),
            max_cost_usd=None if lim.max_cost_usd is None else lim.max_cost_usd - cost)

    def absorb(self, child: "Agent") -> None:
        """A finished child's turns, usage and denials count as this agent's: toward its
        limits, and in the run's result. Safe from the threads of side-by-side children."""
        with self._lock:
            self.child_turns += child.turns + child.child_turns
            self.usage = self.usage + child.usage
            self.denials += child.denials

    def hook(self, event: str, target: str | None = None, call_id: str = "",
             interruptible: bool = True, **fields) -> Verdict:
        """Run `event`'s hooks (none configured: an empty verdict). `interruptible`: the
        run's cancel event kills them (not for the session's own events)."""
        if self.hooks is None:
            return Verdict()
        return self.hooks.run(event, fields, emit=self.emit, mode=self.permissions.mode,
                              target=target, call_id=call_id,
                              cancel=self.ctx.cancel if interruptible else None)

    def add_context(self, event: str, texts: list[str]) -> None:
        """Context from `event`'s hooks, for the model with the next instruction."""
        self._context += [(event, t) for t in texts]

    # ---- run: the whole loop ------------------------------------------------------

    def run(self, instruction: str) -> Outcome:
        self.started, self.turns, self.child_turns = time.monotonic(), 0, 0
        self._stop_returns = 0
        try:
            self._submit(instruction)
            while True:
                self._check_limits()
                self.turns += 1
                self.emit(ev.TurnStarted(self.turns))
                if self.compactor is not None:
                    if self.hooks is not None and self._compaction_due():
                        self.hook("PreCompact", "auto", trigger="auto", custom_instructions="")
                    self.messages[:] = self.compactor.maybe_compact(self.messages)
                    self.usage = self.usage + self.compactor.take_spent()
                reply, stop_reason = self._query(self.turns)
                self.messages.append(reply)
                self.emit(ev.TurnEnded(self.turns, stop_reason))
                if not reply.tool_calls:
                    if self._done():
                        return Outcome("success", reply.content, self.turns + self.child_turns)
                    continue  # --verify failed or a Stop hook objected: the next message says why
                self._execute_all(reply.tool_calls)
        except AmaError as e:
            self.emit(ev.ErrorEvent(e.message, e.subtype))
            return Outcome(e.subtype, e.message, self.turns + self.child_turns, error=e)

    def _submit(self, instruction: str) -> None:
        """The instruction into the conversation, after UserPromptSubmit hooks (which may
        refuse it: HookBlocked) and with the context hooks added."""
        if not self.is_subagent:
            verdict = self.hook("UserPromptSubmit", prompt=instruction)
            if verdict.blocked:
                raise HookBlocked(f"the prompt was blocked by a UserPromptSubmit hook: "
                                  f"{verdict.reason}")
            self.add_context("UserPromptSubmit", verdict.context)
        if self._context:
            from prompts import render
            instruction = render("hook_context.md", context=self._context, message=instruction)
            self._context = []
        self.messages.append(Message("user", instruction))
        self.emit(ev.UserMessage(instruction))

    def _done(self) -> bool:
        """The model stopped calling tools. Done, unless --verify fails (its output goes
        back to the model; VerificationFailed once the budget is spent) or a Stop hook
        sends the model back (at most `max_stop_returns` times a run)."""
        return self._verified() and not self._sent_back_by_stop_hook()

    def _sent_back_by_stop_hook(self) -> bool:
        """Stop (SubagentStop for a child) hooks: True when they send the model back."""
        event = "SubagentStop" if self.is_subagent else "Stop"
        verdict = self.hook(event, stop_hook_active=self._stop_returns > 0)
        if not verdict.blocked:
            return False
        limit = self.hooks.max_stop_returns if self.hooks is not None else 0
        if self._stop_returns >= limit:
            self.emit(ev.Notice("warning", f"a {event} hook still objects after sending the "
                                           f"model back {self._stop_returns} times; the run "
                                           f"ends here ({verdict.reason})"))
            return False
        from prompts import render
        self._stop_returns += 1
        feedback = render("hook_stop.md", event=event, reason=verdict.reason).strip()
        self.messages.append(Message("user", feedback))
        self.emit(ev.UserMessage(feedback))
        return True

    def _verified(self) -> bool:
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

    def _compaction_due(self) -> bool:
        """Will `maybe_compact` compact now? (The same test, for PreCompact hooks.)"""
        c = self.compactor
        return c is not None and c.tokens(self.messages) >= c.threshold * c.context_window

    def _check_limits(self) -> None:
        lim = self.limits
        if self.ctx.cancel.is_set():
            raise Interrupted("interrupted by the user")
        if lim.max_turns is not None and self.turns + self.child_turns >= lim.max_turns:
            raise LimitReached(f"reached --max-turns {lim.max_turns} before the model finished; "
                               f"raise it to let the run go on", "error_max_turns")
        if lim.max_seconds is not None and time.monotonic() - self.started >= lim.max_seconds:
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
