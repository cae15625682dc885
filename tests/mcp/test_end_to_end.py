"""`ama -p` with a real MCP server from the user's config: the model calls its tools by
their `mcp__<server>__<tool>` names, read-only ones run, others are asked (a denial
headless) unless allowed, and the result object lists the server."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.ama_cli import calc_repo, isolated_env, run_ama, write_script

DEMO = Path(__file__).parent / "servers" / "demo.py"


@pytest.fixture
def env(tmp_path):
    env = isolated_env(tmp_path)
    config = tmp_path / "xdg" / "amanuensis" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[mcp_servers.demo]\ncommand = "{sys.executable}"\n'
                      f'args = ["{DEMO}", "stdio"]\nstartup_timeout = 20\n')
    return env


def test_the_model_calls_a_user_server_tool(tmp_path, env):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, (
        {"text": "asking", "tool_calls": [{"name": "mcp__demo__echo",
                                           "arguments": {"text": "hi", "times": 2}}]},
        {"text": "done"}))
    r = run_ama(("-p", "echo hi", "--model", model, "--cwd", str(repo), "--sandbox", "local",
                 "--output-format", "ama-events"), env, timeout=90)
    assert r.code == 0, r.stderr
    lines = [__import__("json").loads(x) for x in r.stdout.splitlines()]
    [result] = [x for x in lines if x["type"] == "tool_result"]
    assert result["output"] == "hi hi" and not result["is_error"]
    started = next(x for x in lines if x["type"] == "session_started")
    assert started["mcp_servers"][0]["name"] == "demo"
    assert started["mcp_servers"][0]["status"] == "connected"
    assert "mcp__demo__echo" in lines[-1]["mcp_servers"][0]["tools"]


def test_a_tool_that_may_change_things_is_denied_headless_unless_allowed(tmp_path, env):
    repo = calc_repo(tmp_path / "repo")
    turns = ({"text": "failing", "tool_calls": [{"name": "mcp__demo__fail",
                                                 "arguments": {"reason": "no"}}]},
             {"text": "done"})
    denied = run_ama(("-p", "x", "--model", write_script(tmp_path, turns, "a.jsonl"), "--cwd",
                      str(repo), "--sandbox", "local", "--output-format", "json"), env, timeout=90)
    assert denied.code == 4, denied.stderr
    assert denied.result["permission_denials"][0]["tool_name"] == "mcp__demo__fail"
    allowed = run_ama(("-p", "x", "--model", write_script(tmp_path, turns, "b.jsonl"), "--cwd",
                       str(repo), "--sandbox", "local", "--allowed-tools", "mcp__demo__*",
                       "--output-format", "ama-events"), env, timeout=90)
    finished = [__import__("json").loads(x) for x in allowed.stdout.splitlines()
                if '"tool_result"' in x]
    assert finished and finished[0]["is_error"] and "no" in finished[0]["output"]   # isError
