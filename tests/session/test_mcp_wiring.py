"""open_session with MCP servers: the servers' tools reach the model, statuses are
reported (refused ones too), the servers end with the session or when the open fails
(`home` and `repo` are the shared fixtures of tests/config/conftest.py). The servers
are real: tests/mcp/servers/demo.py over stdio, and processes that fail at once."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from agent.core.errors import BadInput
from agent.session import SessionOptions, open_session, run_session
from tests.ama_cli import write_script
from tools.mcp.spec import ServerSpec

DEMO = Path(__file__).parents[1] / "mcp" / "servers" / "demo.py"


def demo(name: str = "echo", **kw) -> tuple[ServerSpec, str]:
    """The demo server as a user's server, and the token in its environment that finds
    its process."""
    token = uuid.uuid4().hex
    return ServerSpec(name, command=sys.executable, args=(str(DEMO), "stdio"),
                      env={"AMA_TEST_TOKEN": token}, startup_timeout=20, trusted=True,
                      **kw), token


def processes(token: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"AMA_TEST_TOKEN={token}".encode() in environ.split(b"\0"):
            found.append(int(pid))
    return found


DOWN = ServerSpec("down", command=sys.executable, args=("-c", "import sys; sys.exit(3)"))
CALL = {"text": "", "tool_calls": [{"name": "mcp__echo__echo", "arguments": {"text": "hi"}}]}


def test_server_tools_reach_the_model_and_statuses_are_reported(home, repo, tmp_path):
    events = []
    echo, token = demo()
    options = SessionOptions(model=write_script(tmp_path, (CALL, {"text": "Done."})), cwd=repo,
                             sandbox="local",
                             mcp_servers=(echo, DOWN, ServerSpec("boxed", command="x", trusted=True,
                                                                 sandboxed=True)),
                             mcp_refused=((ServerSpec("repo_srv", command="x"), "not yet"),))
    session = open_session(options, events.append)
    try:
        assert processes(token)
        result = run_session(session, "say hi")
    finally:
        session.close()
    assert processes(token) == []            # the server ended with the session
    assert result.subtype == "success"
    finished = [e.to_dict() for e in events if e.type == "tool_result"]
    assert [f["output"] for f in finished] == ["hi"]
    rows = {s["name"]: s for s in result.to_dict()["mcp_servers"]}
    assert rows["echo"]["status"] == "connected" and "mcp__echo__echo" in rows["echo"]["tools"]
    assert [rows[n]["status"] for n in ("down", "boxed", "repo_srv")] == ["failed", "disabled",
                                                                          "disabled"]
    assert all(r["withheld"] == [] for r in rows.values())
    started = next(e for e in events if e.type == "session_started")
    assert [dict(s) for s in started.to_dict()["mcp_servers"]] == result.to_dict()["mcp_servers"]
    warnings = [e.message for e in events if e.type == "notice" and e.level == "warning"]
    assert any(w.startswith("MCP server down: failed: ") for w in warnings), warnings
    assert "MCP server repo_srv not started: not yet" in warnings
    assert "MCP server boxed not started: it runs only in a sandbox (sandbox = true), and " \
           "this session has none (--sandbox local); use --sandbox docker or bwrap" in warnings


def test_required_server_down_is_bad_input_and_the_others_end(home, repo, tmp_path):
    echo, token = demo()
    down = ServerSpec("down", command=DOWN.command, args=DOWN.args, required=True,
                      source="user config c.toml")
    options = SessionOptions(model=write_script(tmp_path, ({"text": "Done."},)), cwd=repo,
                             sandbox="local", mcp_servers=(echo, down))
    with pytest.raises(BadInput, match=r"MCP server down is required but did not connect "
                                       r"\(failed: .*\); it is defined in user config c.toml"):
        open_session(options)
    assert processes(token) == []
    assert not any((home / "ama" / "workspaces").iterdir())


def test_required_refused_server_is_bad_input(home, repo, tmp_path):
    options = SessionOptions(model=write_script(tmp_path, ({"text": "Done."},)), cwd=repo,
                             sandbox="local",
                             mcp_refused=((ServerSpec("build", command="make", required=True,
                                                      source=".mcp.json x"), "not yet"),))
    with pytest.raises(BadInput, match="MCP server build is required but did not connect"):
        open_session(options)


def test_a_sandbox_that_cannot_start_still_ends_the_servers(home, repo, tmp_path):
    echo, token = demo()
    options = SessionOptions(model=write_script(tmp_path, ({"text": "Done."},)), cwd=repo,
                             sandbox="docker", sandbox_image="ama-test-no-such-image",
                             mcp_servers=(echo,))
    with pytest.raises(BadInput):   # no engine, or no such image: either is bad input
        open_session(options)
    assert processes(token) == []
