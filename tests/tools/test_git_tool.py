"""The `git` tool on bad arguments: a tool error the model can read, never an exception."""
from __future__ import annotations

import subprocess
import threading

import pytest

from agent.core.loop import Agent
from agent.models.script import ScriptModel
from tools.base import ToolContext, ToolError
from tools.git_tool import GitTool
from tools.sandbox.local import LocalSandbox


@pytest.fixture
def ctx(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path), cancel=threading.Event())


@pytest.mark.parametrize("args", [["log", "a\0b"], "log a\0b", ["sta\0tus"]])
def test_a_nul_byte_is_a_tool_error(ctx, args):
    tool = GitTool()
    params = tool.params(args=args)
    with pytest.raises(ToolError, match="NUL byte"):
        tool.is_mutating(params)
    with pytest.raises(ToolError, match="NUL byte"):
        tool.run(params, ctx)


def test_the_model_is_told_and_the_run_goes_on(ctx):
    turns = [{"tool_calls": [{"name": "git", "arguments": {"args": ["log", "--", "a\u0000b"]}}]},
             {"text": "ok"}]
    agent = Agent(model=ScriptModel(turns), tools=[GitTool()], ctx=ctx, emit=lambda e: None,
                  system_prompt="test")
    out = agent.run("go")
    assert out.subtype == "success"
    [result] = [m for m in agent.messages if m.role == "tool"]
    assert result.is_error and "cannot contain a NUL byte" in result.content
