"""open_session with MCP servers: the hub's tools reach the model, statuses are reported,
the hub is closed with the session or when the open fails (`home` and `repo` are
the shared fixtures of tests/config/conftest.py). `McpHub.start` is replaced
at its interface by a fake hub that serves one tool (real connections are the MCP
client's own tests)."""
from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from agent.core.errors import BadInput
from agent.session import SessionOptions, open_session, run_session
from tests.ama_cli import write_script
from tools.base import BaseTool, ToolResult
from tools.mcp import hub as hub_module
from tools.mcp.spec import ServerSpec, tool_name


class _EchoParams(BaseModel):
    text: str


class _EchoTool(BaseTool):
    name = tool_name("echo", "say")
    description = "Echo the text."
    params = _EchoParams
    mutating = False

    def run(self, args, ctx):
        return ToolResult(output=f"echo: {args.text}")


class _FakeHub:
    """Connects every server but `down`; records the specs it got and whether it closed."""
    started: list = []

    def __init__(self, specs):
        self.specs, self.closed = list(specs), False
        self.tools = [_EchoTool()] if any(s.name == "echo" for s in specs) else []
        self.statuses = [hub_module.ServerStatus(s.name, "timeout", (), "no answer in 1s")
                         if s.name == "down" else
                         hub_module.ServerStatus(s.name, "connected", tuple(t.name for t in self.tools))
                         for s in specs]
        _FakeHub.started.append(self)

    def close(self):
        self.closed = True


@pytest.fixture
def fake_hub(monkeypatch):
    _FakeHub.started = []
    monkeypatch.setattr(hub_module.McpHub, "start", classmethod(lambda cls, specs: _FakeHub(specs)))
    return _FakeHub.started


CALL = {"text": "", "tool_calls": [{"name": "mcp__echo__say", "arguments": {"text": "hi"}}]}


def test_hub_tools_reach_the_model_and_statuses_are_reported(home, fake_hub, repo, tmp_path):
    events = []
    options = SessionOptions(model=write_script(tmp_path, (CALL, {"text": "Done."})), cwd=repo,
                             sandbox="local",
                             mcp_servers=(ServerSpec("echo", command="e"), ServerSpec("down", url="http://h")),
                             mcp_refused=((ServerSpec("repo_srv", command="x"), "not yet"),))
    session = open_session(options, events.append)
    try:
        result = run_session(session, "say hi")
    finally:
        session.close()
    assert fake_hub[0].closed and [s.name for s in fake_hub[0].specs] == ["echo", "down"]
    assert result.subtype == "success"
    finished = [e for e in events if e.type == "tool_result"]
    assert finished and "echo: hi" in json.dumps([e.to_dict() for e in finished])
    expected = [{"name": "echo", "status": "connected", "tools": ["mcp__echo__say"], "withheld": []},
                {"name": "down", "status": "timeout", "tools": [], "withheld": []},
                {"name": "repo_srv", "status": "disabled", "tools": [], "withheld": []}]
    assert result.to_dict()["mcp_servers"] == expected
    started = next(e for e in events if e.type == "session_started")
    assert [dict(s) for s in started.to_dict()["mcp_servers"]] == expected
    warnings = [e.message for e in events if e.type == "notice" and e.level == "warning"]
    assert "MCP server down: timeout: no answer in 1s" in warnings
    assert "MCP server repo_srv not started: not yet" in warnings


def test_required_server_down_is_bad_input_and_the_hub_is_closed(home, fake_hub, repo, tmp_path):
    options = SessionOptions(model=write_script(tmp_path, ({"text": "Done."},)), cwd=repo,
                             sandbox="local",
                             mcp_servers=(ServerSpec("down", url="http://h", required=True,
                                                     source="user config c.toml"),))
    with pytest.raises(BadInput, match=r"MCP server down is required but did not connect "
                                       r"\(timeout: no answer in 1s\); it is defined in user config c.toml"):
        open_session(options)
    assert fake_hub[0].closed
    assert not any((home / "ama" / "workspaces").iterdir())


def test_required_refused_server_is_bad_input(home, repo, tmp_path):
    options = SessionOptions(model=write_script(tmp_path, ({"text": "Done."},)), cwd=repo,
                             sandbox="local",
                             mcp_refused=((ServerSpec("build", command="make", required=True,
                                                      source=".mcp.json x"), "not yet"),))
    with pytest.raises(BadInput, match="MCP server build is required but did not connect"):
        open_session(options)


def test_a_failing_sandbox_still_closes_the_hub(home, fake_hub, repo, tmp_path, monkeypatch):
    import agent.session.open as opener

    def no_sandbox(*a, **k):
        raise BadInput("no sandbox here")
    monkeypatch.setattr(opener, "_sandbox", no_sandbox)
    options = SessionOptions(model=write_script(tmp_path, ({"text": "Done."},)), cwd=repo,
                             sandbox="local", mcp_servers=(ServerSpec("echo", command="e"),))
    with pytest.raises(BadInput, match="no sandbox here"):
        open_session(options)
    assert fake_hub[0].closed
