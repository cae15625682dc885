"""The loop, driven by the real `script:` model and real tools on a temp workspace."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel

from agent.core import events as ev
from agent.core.loop import Agent, Limits
from agent.models.script import ScriptModel
from agent.core.permissions import Permissions
from tools.base import BaseTool, ToolContext, ToolError, ToolResult
from tools.sandbox.local import LocalSandbox
from tools.shell import ShellTool
from tools.todo import TodoTool


class EchoParams(BaseModel):
    text: str


class EchoTool(BaseTool):
    name, description, params, mutating = "echo", "Echo text back.", EchoParams, False

    def run(self, args, ctx):
        if args.text == "fail":
            raise ToolError("echo refuses 'fail'")
        if args.text == "crash":
            raise RuntimeError("boom")
        return ToolResult(output=f"echo: {args.text}")


class InterruptingTool(BaseTool):
    """A call during which the user presses Esc: the cancel event is set as it runs."""
    name, description, params, mutating = "interrupting", "Runs while the user interrupts.", \
        EchoParams, False

    def run(self, args, ctx):
        ctx.cancel.set()
        return ToolResult(output=f"ran: {args.text}")


def make_agent(tmp_path: Path, turns: list[dict], **kw) -> tuple[Agent, list[ev.Event]]:
    seen: list[ev.Event] = []
    ctx = ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path), cancel=kw.pop("cancel", threading.Event()))
    agent = Agent(model=ScriptModel(turns), tools=[EchoTool(), ShellTool(), TodoTool(), InterruptingTool()], ctx=ctx,
                  emit=seen.append, system_prompt="test", **kw)
    return agent, seen


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


def test_runs_until_the_model_stops_calling_tools(tmp_path):
    agent, events = make_agent(tmp_path, [
        {"text": "echoing", "tool_calls": [call("echo", text="hi")]},
        {"text": "all done"},
    ])
    out = agent.run("say hi")
    assert (out.subtype, out.result, out.num_turns) == ("success", "all done", 2)
    roles = [m.role for m in agent.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert agent.messages[3].content == "echo: hi" and not agent.messages[3].is_error
    types = [e.type for e in events]
    assert types[:3] == ["user_message", "turn_started", "text_delta"]
    # a turn is one model reply; its tool calls run after it and before the next turn
    assert types.index("turn_ended") < types.index("tool_call") < types.index("tool_result") \
        < types.index("turn_started", 2)


def test_several_calls_in_one_turn_are_all_executed_and_answered_in_order(tmp_path):
    agent, _ = make_agent(tmp_path, [
        {"tool_calls": [call("echo", text="a"), call("shell", command="echo b"), call("echo", text="c")]},
        {"text": "ok"},
    ])
    agent.run("go")
    tool_msgs = [m for m in agent.messages if m.role == "tool"]
    assert [m.content.splitlines()[0] for m in tool_msgs] == ["echo: a", "b", "echo: c"]
    ids = [c.id for c in agent.messages[2].tool_calls]
    assert [m.tool_call_id for m in tool_msgs] == ids


def test_tool_error_goes_back_to_the_model_and_the_loop_goes_on(tmp_path):
    agent, events = make_agent(tmp_path, [
        {"tool_calls": [call("echo", text="fail")]},
        {"text": "I see the error"},
    ])
    out = agent.run("go")
    assert out.subtype == "success"
    err = agent.messages[3]
    assert err.is_error and "echo refuses 'fail'" in err.content
    assert any(isinstance(e, ev.ToolFinished) and e.is_error for e in events)


def test_other_exceptions_end_the_run_with_a_clear_error(tmp_path):
    agent, events = make_agent(tmp_path, [{"tool_calls": [call("echo", text="crash")]}, {"text": "never"}])
    out = agent.run("go")
    assert out.subtype == "error_during_execution" and out.is_error
    assert "tool echo failed: RuntimeError: boom" in out.result
    assert any(isinstance(e, ev.ErrorEvent) for e in events)


@pytest.mark.parametrize("turn, expected", [
    ({"tool_calls": [{"name": "nope", "arguments": {}}]}, "unknown tool 'nope'"),
    ({"tool_calls": [{"name": "echo", "arguments": "{\"text\": "}]}, "not valid JSON"),
    ({"tool_calls": [{"name": "echo", "arguments": {"txt": 1}}]}, "invalid arguments for echo: text"),
])
def test_bad_calls_become_tool_errors(tmp_path, turn, expected):
    agent, _ = make_agent(tmp_path, [turn, {"text": "fine"}])
    out = agent.run("go")
    assert out.subtype == "success"
    assert agent.messages[3].is_error and expected in agent.messages[3].content


def test_max_turns_stops_the_run(tmp_path):
    loop_turn = {"tool_calls": [call("echo", text="again")]}
    agent, _ = make_agent(tmp_path, [loop_turn] * 10, limits=Limits(max_turns=3))
    out = agent.run("go")
    assert out.subtype == "error_max_turns" and out.num_turns == 3
    assert "--max-turns 3" in out.result


def test_max_cost_stops_the_run(tmp_path):
    turn = {"tool_calls": [call("echo", text="x")], "usage": {"input_tokens": 10, "output_tokens": 1, "cost_usd": 0.4}}
    agent, _ = make_agent(tmp_path, [turn] * 10, limits=Limits(max_cost_usd=1.0))
    out = agent.run("go")
    assert out.subtype == "error_max_cost" and out.num_turns == 3
    assert agent.usage.cost_usd == pytest.approx(1.2)


def test_script_that_runs_out_ends_with_plain_text(tmp_path):
    agent, _ = make_agent(tmp_path, [])
    out = agent.run("go")
    assert (out.subtype, out.result) == ("success", "(script ended)")


def test_denied_calls_are_reported_and_answered(tmp_path):
    agent, events = make_agent(tmp_path, [
        {"tool_calls": [call("shell", command="ls && curl x")]}, {"text": "ok"}],
        permissions=Permissions.from_lists(allow=["shell(ls*)"]))
    agent.run("go")
    assert agent.messages[3].is_error and "permission denied" in agent.messages[3].content
    assert agent.denials[0]["tool_name"] == "shell"
    assert any(isinstance(e, ev.PermissionDenied) for e in events)


def test_cancel_interrupts_between_calls_and_answers_every_call(tmp_path):
    agent, _ = make_agent(tmp_path, [{"tool_calls": [call("interrupting", text="1"),
                                                     call("echo", text="2")]}])
    out = agent.run("go")
    assert out.subtype == "error_interrupted"
    tool_msgs = [m for m in agent.messages if m.role == "tool"]
    assert len(tool_msgs) == 2 and tool_msgs[1].content == "not run: the user interrupted"


def test_mutating_calls_trigger_checkpoints_and_reads_do_not(tmp_path):
    seen = []
    agent, _ = make_agent(tmp_path, [
        {"tool_calls": [call("echo", text="r"), call("shell", command="touch f"), call("todo_write", items=[])]},
        {"text": "ok"}], on_mutation=lambda c: seen.append(c.name))
    agent.run("go")
    assert seen == ["shell"]


def test_messages_round_trip_through_dicts(tmp_path):
    agent, _ = make_agent(tmp_path, [{"text": "t", "tool_calls": [call("echo", text="x")]}, {"text": "ok"}])
    agent.run("go")
    from agent.core.types import Message
    for m in agent.messages:
        assert Message.from_dict(json.loads(json.dumps(m.to_dict()))) == m
