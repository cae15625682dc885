"""How the tool calls of one turn are checked and run: `ToolDispatch`, the part of the
Agent (agent/core/loop.py) that the loop hands a turn's calls to.

Every tool call is checked in one place, `_prepare`: PreToolUse hooks, then the
permission rules (a hook's allow answers what would be asked, but deny rules, plan mode
and ask rules still stand). A ToolError goes back to the model as that call's result;
any other exception from a tool ends the run with a clear error.

The calls of one turn run in order, except that consecutive calls of a tool that may run
side by side (the `task` tool's read-only subagents: an `AgentTool` with `concurrent`)
run at once, their results kept in call order.
"""
from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.core import events as ev
from agent.core.errors import AmaError, Interrupted, RuntimeFailure
from agent.core.permissions import Rule
from agent.core.subagent import AgentTool
from agent.core.types import Message, ToolCall
from tools.base import Tool, ToolError, ToolResult


@dataclass
class _Admitted:
    """A call past `_prepare` (as hooks rewrote it), or refused: `tool` None, `refusal` why."""
    call: ToolCall
    started: float
    tool: Tool | None = None
    args: Any = None
    mutating: bool = False
    refusal: str = ""


class ToolDispatch:
    """Checking and running tool calls, for the Agent: it uses the Agent's tools
    (`_tools`), context, emit, hooks (`hook`), permissions, approver, on_mutation,
    messages and denials."""

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
