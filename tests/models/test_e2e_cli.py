"""`ama -p` end to end, as a subprocess, against a scripted server for each provider.

Each run is a two-step task: the model writes a file with a tool, reads the tool's
result, and answers. The result JSON must carry the change, the summed usage and
the cost; the server must have received the tool result in the second request.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models.wire_servers import (Reply, anthropic_error, anthropic_turn, openai_error,
                                       openai_turn)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("demo\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    return repo


def ama(repo: Path, home: Path, model: str, env: dict[str, str], *extra: str) -> tuple[int, dict, str]:
    """Run `ama -p` headless; returns (exit code, result object, stderr)."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC_", "OPENAI_")) and "proxy" not in k.lower()}
    base.update(AMA_HOME=str(home), **env)
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "-p", "Create hello.txt saying hi, then report.",
         "--model", model, "--sandbox", "local", "--output-format", "json", "--cwd", str(repo), *extra],
        cwd=ROOT, env=base, capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"no result on stdout; stderr:\n{proc.stderr}"
    return proc.returncode, json.loads(lines[-1]), proc.stderr


def assert_wrote_hello(result: dict, repo: Path) -> None:
    assert result["subtype"] == "success" and result["is_error"] is False
    assert result["num_turns"] == 2
    assert [f["path"] for f in result["changes"]["files"]] == ["hello.txt"]
    assert "+hi" in result["changes"]["patch"]
    assert not (repo / "hello.txt").exists()   # --apply patch: the user's tree is untouched


def test_anthropic_end_to_end(serve, repo, tmp_path):
    server = serve([
        anthropic_error(529, "overloaded_error", "busy", {"retry-after": "0"}),
        Reply(frames=anthropic_turn(text=["Writing."], tool_calls=[
            ("toolu_1", "write_file", ['{"path": "hello.txt", ', '"content": "hi\\n"}'])],
            input_tokens=1000, output_tokens=100, cache_write=2000)),
        Reply(frames=anthropic_turn(text=["Created hello.txt."], input_tokens=50,
                                    cache_read=2000, output_tokens=20))])
    code, result, err = ama(repo, tmp_path / "home", "anthropic:claude-haiku-4-5",
                            {"ANTHROPIC_API_KEY": "dummy", "ANTHROPIC_BASE_URL": server.url})
    assert code == 0, err
    assert_wrote_hello(result, repo)
    assert result["result"] == "Created hello.txt."
    assert result["usage"] == {"input_tokens": 1050, "output_tokens": 120, "cache_read_tokens": 2000,
                               "cache_write_tokens": 2000, "cost_usd": pytest.approx(0.00435)}
    # haiku 4.5: (1050*1 + 120*5 + 2000*0.1 + 2000*1.25) / 1e6
    assert result["total_cost_usd"] == pytest.approx(0.00435)
    assert len(server.requests) == 3   # the 529 was retried
    second = server.requests[2].json["messages"]
    assert second[-1]["content"][0]["type"] == "tool_result"
    assert second[-1]["content"][0]["tool_use_id"] == "toolu_1"


def test_openai_end_to_end_with_parallel_calls(serve, repo, tmp_path):
    server = serve([
        Reply(frames=openai_turn(interleave=True, tool_calls=[
            ("call_1", "write_file", ['{"path": "hello.txt",', ' "content": "hi\\n"}']),
            ("call_2", "read_file", ['{"path": ', '"README.md"}'])],
            prompt_tokens=1000, cached_tokens=0, completion_tokens=50)),
        Reply(frames=openai_turn(text=["Done."], prompt_tokens=1500, cached_tokens=1000,
                                 completion_tokens=10))])
    code, result, err = ama(repo, tmp_path / "home", "openai:gpt-5-mini",
                            {"OPENAI_API_KEY": "sk-dummy", "OPENAI_BASE_URL": server.url + "/v1"})
    assert code == 0, err
    assert_wrote_hello(result, repo)
    assert result["usage"]["input_tokens"] == 1500 and result["usage"]["cache_read_tokens"] == 1000
    # gpt-5-mini: (1500*0.25 + 1000*0.025 + 60*2) / 1e6
    assert result["total_cost_usd"] == pytest.approx(0.00052)
    tool_msgs = [m for m in server.requests[1].json["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_1", "call_2"]
    assert "demo" in tool_msgs[1]["content"]


def test_openai_compat_end_to_end_with_text_tool_calls(serve, repo, tmp_path):
    server = serve([
        Reply(frames=openai_turn(text=["I will create it.\n<tool_call>\n{\"name\": \"write_file\", ",
                                       "\"arguments\": {\"path\": \"hello.txt\", \"content\": \"hi\\n\"}}",
                                       "\n</tool_call>"])),
        Reply(frames=openai_turn(text=["All done."]))])
    code, result, err = ama(repo, tmp_path / "home", f"openai-compat:qwen3-coder@{server.url}/v1", {})
    assert code == 0, err
    assert_wrote_hello(result, repo)
    assert result["result"] == "All done." and result["total_cost_usd"] == 0
    assert "authorization" not in server.requests[0].headers or \
        "sk-" not in server.requests[0].headers["authorization"]
    history = server.requests[1].json["messages"]
    assert history[-2]["tool_calls"][0]["function"]["name"] == "write_file"
    assert "<tool_call>" not in (history[-2]["content"] or "")
    assert history[-1]["role"] == "tool"


def test_auth_error_ends_the_run_with_what_to_do(serve, repo, tmp_path):
    server = serve([openai_error(401, "Incorrect API key provided", "invalid_api_key")])
    code, result, _ = ama(repo, tmp_path / "home", "openai:gpt-5",
                          {"OPENAI_API_KEY": "sk-bad", "OPENAI_BASE_URL": server.url + "/v1"})
    assert code == 1 and result["is_error"] is True
    assert "OPENAI_API_KEY" in json.dumps(result)
    assert len(server.requests) == 1


def test_max_cost_stops_the_run_with_exit_3(serve, repo, tmp_path):
    turn = anthropic_turn(tool_calls=[("t1", "list_files", ["{}"])], input_tokens=100_000)
    server = serve([Reply(frames=turn), Reply(frames=turn), Reply(frames=turn)])
    code, result, _ = ama(repo, tmp_path / "home", "anthropic:claude-haiku-4-5",
                          {"ANTHROPIC_API_KEY": "dummy", "ANTHROPIC_BASE_URL": server.url},
                          "--max-cost", "0.15")
    assert code == 3 and result["subtype"] == "error_max_cost"
    assert result["total_cost_usd"] >= 0.15


def test_retry_keys_from_config_reach_the_provider(serve, repo, tmp_path):
    server = serve([openai_error(500, "internal", kind="server_error")] * 4)
    code, result, err = ama(repo, tmp_path / "home", "openai:gpt-5",
                            {"OPENAI_API_KEY": "sk-dummy", "OPENAI_BASE_URL": server.url + "/v1"},
                            "--config", "max_retries=1", "--config", "retry_base_delay=0.01",
                            "--config", "timeout=5")
    assert code == 1 and "gave up after 2 attempts" in result["result"], err
    assert len(server.requests) == 2


def test_deeply_nested_text_tool_call_goes_back_to_the_model(serve, repo, tmp_path):
    deep = "[" * 1000 + "]" * 1000
    server = serve([
        Reply(frames=openai_turn(text=['<tool_call>{"name": "write_file", "arguments": ', deep,
                                       "}</tool_call>"])),
        Reply(frames=openai_turn(text=["Could not write it."]))])
    code, result, err = ama(repo, tmp_path / "home", f"openai-compat:qwen3-coder@{server.url}/v1", {})
    assert code == 0 and result["result"] == "Could not write it.", err
    [tool_msg] = [m for m in server.requests[1].json["messages"] if m["role"] == "tool"]
    assert "nested" in tool_msg["content"] and "at most 100" in tool_msg["content"]
