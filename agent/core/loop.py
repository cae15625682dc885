"""The planner loop: instruction → model → tool calls → results → model … until the
model answers without a tool call, a limit is hit, or the user interrupts.

It emits events and never prints. A tool's ToolError goes back to the model as that
call's result; any other exception from a tool ends the run with a clear error.

Every tool call is checked in one place, `_prepare`: PreToolUse hooks, then the
permission rules (a hook's allow answers what would be asked, but deny rules, plan mode
and ask rules still stand). A child agent made with `spawn` shares the parent's
permissions, hooks and approver, so its calls pass the same checks; its turns, cost
and time come out of the parent's limits, and `absorb` counts them as the parent's.

The calls of one turn run in order, except that consecutive calls of a tool that may run
side by side (the `task` tool's read-only subagents: an `AgentTool` with `concurrent`)
run at once, their results kept in call order.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pydantic import ValidationError

from agent.core import events as ev
from agent.core.errors import (AmaError, Interrupted, LimitReached, RuntimeFailure, StreamInterrupted,
                          VerificationFailed)
from agent.core.hooks import HookBlocked, HookRunner, Verdict
from agent.core.permissions import Permissions, Rule
from agent.core.subagent import AgentTool
from agent.core.types import (Done, Message, Model, ModelSettings, TextDelta, ThinkingDelta,
                         ToolCall, ToolCallDone, Usage)
from tools.base import Tool, ToolContext, ToolError, ToolResult, tool_spec

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
class _Admitted:
    """A call past `_prepare` (as hooks rewrote it), or refused: `tool` None, `refusal` why."""
    call: ToolCall
    started: float
    tool: Tool | None = None
    args: Any = None
    mutating: bool = False
    refusal: str = ""


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

    # ---- execute: the tool calls of one turn ---------------------------------------

    def _execute_all(self, calls: tuple[ToolCall, ...]) -> None:
        """Each call in order, its result into the conversation; a run of consecutive
        calls that may go side by side (`AgentTool.concurrent`) runs at once."""
        i = 0
        while i < len(calls):
            if self.ctx.cancel.is_set():
                self._answer_interrupted(calls[i:])
                raise Interrupted("interrupted by the user")
            group = self._side_by_side(calls[i:])
            if len(group) > 1:
                self.messages += self._execute_together(group)
            else:
                self.messages.append(self._execute(calls[i]))
            i += len(group)

    def _side_by_side(self, calls: tuple[ToolCall, ...]) -> tuple[ToolCall, ...]:
        """The first call, with the calls after it that may run together with it (≥ 1)."""
        n = 0
        while n < len(calls) and _concurrent(self._tools.get(calls[n].name)):
            n += 1
        return calls[:max(n, 1)]

    def _execute(self, call: ToolCall) -> Message:
        admitted = self._admit(call)
        return self._conclude(admitted, *self._perform(admitted))

    def _execute_together(self, calls: tuple[ToolCall, ...]) -> list[Message]:
        """Calls admitted one by one on this thread (hooks, approvals), then the read-only
        ones run at once, each on a thread of its own; one that may change the workspace
        runs alone, after them. The results in call order."""
        admitted = [self._admit(call) for call in calls]
        side = [a for a in admitted if not a.mutating]
        with ThreadPoolExecutor(max_workers=len(side) or 1, thread_name_prefix="ama-task") as pool:
            ran = dict(zip(map(id, side), pool.map(self._perform, side)))
        ran.update((id(a), self._perform(a)) for a in admitted if a.mutating)
        return [self._conclude(a, *ran[id(a)]) for a in admitted]

    def _admit(self, call: ToolCall) -> _Admitted:
        """Propose the call and check it (`_prepare`): admitted, or refused with the reason."""
        self.emit(ev.ToolCallProposed(call.id, call.name, dict(call.arguments)))
        started = time.monotonic()
        try:
            tool, call, args, mutating = self._prepare(call)
        except ToolError as e:   # refused: it will not run
            return _Admitted(call, started, refusal=e.message)
        return _Admitted(call, started, tool, args, mutating)

    def _perform(self, a: _Admitted) -> tuple[ToolResult, bool]:
        """Run an admitted call: (its result, is_error). A ToolError is the model's to read;
        any other failure ends the run (AmaError, RuntimeFailure)."""
        if a.tool is None:
            return ToolResult(a.refusal), True
        try:
            try:
                if isinstance(a.tool, AgentTool):
                    return a.tool.run_for(self, a.call, a.args), False
                return a.tool.run(a.args, self.ctx), False
            finally:  # checkpoint even when the tool failed halfway
                if a.mutating and self.on_mutation is not None:
                    self.on_mutation(a.call)
        except ToolError as e:
            return ToolResult(e.message), True
        except AmaError:
            raise
        except Exception as e:  # a bug or a broken sandbox: not the model's to fix
            raise RuntimeFailure(f"tool {a.call.name} failed: {type(e).__name__}: {e}") from e

    def _conclude(self, a: _Admitted, result: ToolResult, is_error: bool) -> Message:
        """PostToolUse hooks on a call that ran (what they say goes to the model with the
        result), then the result as a message."""
        call, output = a.call, result.output
        if a.tool is None:   # refused: no PostToolUse
            return self._finished(call, output, True, "", {}, a.started)
        summary, data = result.summary, dict(result.data)
        verdict = self.hook("PostToolUse", call.name, call.id, tool_name=call.name,
                            tool_input=dict(call.arguments), tool_use_id=call.id,
                            tool_response={"output": output, "is_error": is_error,
                                           "summary": summary, "data": data})
        feedback = [*([verdict.reason] if verdict.blocked else []), *verdict.context]
        if feedback:   # exit 2 and additionalContext: for the model, with the result
            from prompts import render
            output = render("hook_feedback.md", output=output, feedback=feedback).strip()
        return self._finished(call, output, is_error, summary, data, a.started, result.images)

    def _finished(self, call: ToolCall, output: str, is_error: bool, summary: str, data: dict,
                  started: float, images: tuple = ()) -> Message:
        self.emit(ev.ToolFinished(call.id, call.name, output, is_error, summary, data,
                                  time.monotonic() - started))
        return Message("tool", output, tool_call_id=call.id, name=call.name, is_error=is_error,
                       images=images)

    def _prepare(self, call: ToolCall):
        """Look up, validate, hook- and permission-check a call: (tool, call, args,
        mutating) — the call as PreToolUse hooks rewrote it — or a ToolError if it must
        not run."""
        if call.arguments_error:
            raise ToolError(f"{call.name} was not run: {call.arguments_error}; send the "
                            f"arguments again as one JSON object")
        tool = self._tools.get(call.name)
        if tool is None:
            raise ToolError(f"unknown tool {call.name!r}; available: {', '.join(self._tools)}")
        args = _validate(tool, call.arguments, f"invalid arguments for {call.name}")
        hook = self.hook("PreToolUse", call.name, call.id, tool_name=call.name,
                         tool_input=dict(call.arguments), tool_use_id=call.id)
        if hook.blocked:
            self._deny(call, f"a PreToolUse hook blocked it: {hook.reason}")
        if hook.updated_input is not None:
            args = _validate(tool, hook.updated_input, f"a PreToolUse hook rewrote the "
                             f"arguments of {call.name}, and they are invalid, so it was not run")
            call = dataclasses.replace(call, arguments=hook.updated_input)
        mutating = tool.is_mutating(args)
        # A hook's allow counts as a granted rule: deny rules, plan mode and ask rules stand.
        rules = self.permissions if hook.decision != "allow" else dataclasses.replace(
            self.permissions, granted=[*self.permissions.granted, Rule(call.name)])
        action, reason = rules.decide(call.name, call.arguments, mutating,
                                      can_ask=self.approve is not None)
        if hook.decision == "ask" and action != "deny":
            why = f"a PreToolUse hook asks: {hook.reason or 'confirm this call'}"
            action, reason = "ask", why if action == "allow" else f"{why}; {reason}"
        if action == "ask":
            self.emit(ev.ApprovalRequested(call.id, call.name, dict(call.arguments), reason))
            if self.approve is not None and self.approve(call, reason):
                action = "allow"
            else:
                action, reason = "deny", f"{reason}; not approved" if self.approve else \
                    f"{reason}; no one to ask in headless mode"
        if action == "deny":
            self._deny(call, reason)
        return tool, call, args, mutating

    def _deny(self, call: ToolCall, reason: str) -> None:
        self.denials.append({"tool_name": call.name, "tool_use_id": call.id,
                             "tool_input": dict(call.arguments), "reason": reason})
        self.emit(ev.PermissionDenied(call.id, call.name, dict(call.arguments), reason))
        raise ToolError(f"permission denied: {reason}. Do not retry this call; "
                        f"find another way or tell the user what you needed")

    def _answer_interrupted(self, calls) -> None:
        for call in calls:
            self.messages.append(Message("tool", "not run: the user interrupted",
                                         tool_call_id=call.id, name=call.name, is_error=True))


def _concurrent(tool: Tool | None) -> bool:
    return isinstance(tool, AgentTool) and tool.concurrent


def _validate(tool: Tool, arguments, what: str):
    """`arguments` as the tool's params model, or a ToolError saying `what` and why."""
    try:
        return tool.params.model_validate(dict(arguments))
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'arguments'}: {err['msg']}"
                             for err in e.errors())
        raise ToolError(f"{what}: {problems}") from None
