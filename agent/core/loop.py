"""The planner loop: instruction → model → tool calls → results → model … until the
model answers without a tool call, a limit is hit, or the user interrupts.

It emits events and never prints. A tool's ToolError goes back to the model as that
call's result; any other exception from a tool ends the run with a clear error.

Every tool call is checked in one place, `_prepare`: PreToolUse hooks, then the
permission rules (a hook's allow answers what would be asked, but deny rules, plan mode
and ask rules still stand). A child agent made with `spawn` shares the parent's
permissions, hooks and approver, so its calls pass the same checks.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from pydantic import ValidationError

from agent.core import events as ev
from agent.core.errors import (AmaError, Interrupted, LimitReached, RuntimeFailure, StreamInterrupted,
                          VerificationFailed)
from agent.core.hooks import HookBlocked, HookRunner, Verdict
from agent.core.permissions import Permissions, Rule
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

    def spawn(self, *, model: Model, tools: list[Tool], system_prompt: str, emit: ev.EventSink,
              limits: Limits | None = None) -> "Agent":
        """A child agent (a subagent) on the same workspace, sandbox and cancel event, with
        a fresh conversation. It shares this agent's permissions, approver and hooks: every
        call it makes goes through the same `_prepare`."""
        return Agent(model=model, tools=tools, ctx=self.ctx, emit=emit, system_prompt=system_prompt,
                     settings=self.settings, limits=limits or self.limits,
                     permissions=self.permissions, approve=self.approve,
                     on_mutation=self.on_mutation, hooks=self.hooks, is_subagent=True)

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
        started, turns = time.monotonic(), 0
        self._stop_returns = 0
        try:
            self._submit(instruction)
            while True:
                self._check_limits(turns, started)
                turns += 1
                self.emit(ev.TurnStarted(turns))
                if self.compactor is not None:
                    if self.hooks is not None and self._compaction_due():
                        self.hook("PreCompact", "auto", trigger="auto", custom_instructions="")
                    self.messages[:] = self.compactor.maybe_compact(self.messages)
                    self.usage = self.usage + self.compactor.take_spent()
                reply, stop_reason = self._query(turns)
                self.messages.append(reply)
                self.emit(ev.TurnEnded(turns, stop_reason))
                if not reply.tool_calls:
                    if self._done():
                        return Outcome("success", reply.content, turns)
                    continue  # --verify failed or a Stop hook objected: the next message says why
                for i, call in enumerate(reply.tool_calls):
                    if self.ctx.cancel.is_set():
                        self._answer_interrupted(reply.tool_calls[i:])
                        raise Interrupted("interrupted by the user")
                    self.messages.append(self._execute(call))
        except AmaError as e:
            self.emit(ev.ErrorEvent(e.message, e.subtype))
            return Outcome(e.subtype, e.message, turns, error=e)

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
        summary, data = "", {}
        try:
            tool, call, args, mutating = self._prepare(call)
        except ToolError as e:   # refused: it never ran
            return self._finished(call, e.message, True, "", {}, started)
        try:
            try:
                result = tool.run(args, self.ctx)
            finally:  # checkpoint even when the tool failed halfway
                if mutating and self.on_mutation is not None:
                    self.on_mutation(call)
            output, is_error, summary, data = result.output, False, result.summary, dict(result.data)
            images = result.images
        except ToolError as e:
            output, is_error, images = e.message, True, ()
        except AmaError:
            raise
        except Exception as e:  # a bug or a broken sandbox: not the model's to fix
            raise RuntimeFailure(f"tool {call.name} failed: {type(e).__name__}: {e}") from e
        verdict = self.hook("PostToolUse", call.name, call.id, tool_name=call.name,
                            tool_input=dict(call.arguments), tool_use_id=call.id,
                            tool_response={"output": output, "is_error": is_error,
                                           "summary": summary, "data": data})
        feedback = [*([verdict.reason] if verdict.blocked else []), *verdict.context]
        if feedback:   # exit 2 and additionalContext: for the model, with the result
            from prompts import render
            output = render("hook_feedback.md", output=output, feedback=feedback).strip()
        return self._finished(call, output, is_error, summary, data, started, images)

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


def _validate(tool: Tool, arguments, what: str):
    """`arguments` as the tool's params model, or a ToolError saying `what` and why."""
    try:
        return tool.params.model_validate(dict(arguments))
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'arguments'}: {err['msg']}"
                             for err in e.errors())
        raise ToolError(f"{what}: {problems}") from None
