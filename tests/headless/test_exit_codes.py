"""Every exit code of the headless contract, from the real CLI."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.ama_cli import wait_until_running
from .conftest import DONE, FIX


def test_0_done(ama, repo, script):
    assert ama("-p", "x", "--model", script(DONE), "--cwd", str(repo), "--sandbox", "local").code == 0


@pytest.mark.parametrize("args, message", [
    (["-p", "x", "--no-such-flag"], "No such option"),
    (["-p", "x", "--cwd", "/nonexistent/dir", "--model", "script:x"], "--cwd /nonexistent/dir: no such directory"),
    (["-p", "x", "--model", "script:/nonexistent.jsonl"], "script file /nonexistent.jsonl not found"),
    (["-p", "x", "--model", "nosuch:model"], "unknown model provider 'nosuch'"),
    (["-p", "x", "--model", "gpt-5"], "has no provider"),
    (["-p", "x", "--model", "anthropic:claude-sonnet-4-5"], "set ANTHROPIC_API_KEY"),
    (["-p", "x", "--model", "openai:gpt-5.2"], "OPENAI_API_KEY"),
    (["-p", "x", "--output-format", "yaml"], "--output-format 'yaml'"),
    (["-p", "x", "--apply", "somewhere"], "--apply 'somewhere'"),
    (["-p", "x", "--sandbox", "chroot", "--model", "script:x"], "--sandbox 'chroot'"),
    (["-p", "   "], "the task is empty"),
])
def test_2_bad_input_gets_one_clear_line(ama, repo, args, message):
    r = ama(*args, "--cwd", str(repo)) if "--cwd" not in args else ama(*args)
    assert r.code == 2, (r.stdout, r.stderr)
    assert message in r.stderr or message in r.stdout


def test_2_malformed_script_names_the_line(ama, repo, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": oops}\n')
    r = ama("-p", "x", "--model", f"script:{bad}", "--cwd", str(repo), "--sandbox", "local",
            "--output-format", "json")
    assert r.code == 2
    assert f"{bad}:2: not valid JSON" in r.stderr
    assert r.result["subtype"] == "error_bad_input" and r.result["is_error"]


def test_2_branch_that_exists_is_refused_before_the_run(ama, repo, script):
    subprocess.run(["git", "-C", str(repo), "branch", "taken"], check=True)
    r = ama("-p", "x", "--model", script(FIX, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--apply", "branch:taken")
    assert r.code == 2 and "already exists" in r.stderr


def test_1_runtime_failure(ama, repo, script):
    # The model's command deletes the scratch copy out from under the next command.
    kill = {"tool_calls": [{"name": "shell", "arguments": {"command": "rm -rf \"$PWD\""}}]}
    again = {"tool_calls": [{"name": "shell", "arguments": {"command": "true"}}]}
    r = ama("-p", "x", "--model", script(kill, again, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--output-format", "json")
    assert r.code == 1, r.stderr
    assert r.result["subtype"] == "error_during_execution" and "tool shell failed" in r.result["result"]


def test_3_max_turns(ama, repo, script):
    loop = {"tool_calls": [{"name": "list_files", "arguments": {}}]}
    r = ama("-p", "x", "--model", script(*[loop] * 5), "--cwd", str(repo), "--sandbox", "local",
            "--max-turns", "2", "--output-format", "json")
    assert r.code == 3
    assert r.result["subtype"] == "error_max_turns" and r.result["num_turns"] == 2


def test_3_max_cost(ama, repo, script):
    turn = {"tool_calls": [{"name": "list_files", "arguments": {}}], "usage": {"cost_usd": 0.3}}
    r = ama("-p", "x", "--model", script(*[turn] * 9), "--cwd", str(repo), "--sandbox", "local",
            "--max-cost", "0.5", "--output-format", "json")
    assert r.code == 3
    assert r.result["subtype"] == "error_max_cost" and r.result["total_cost_usd"] == pytest.approx(0.6)


def test_4_blocked_by_permissions(ama, repo, script):
    turn = {"tool_calls": [{"name": "shell", "arguments": {"command": "ls && rm -rf x"}}]}
    r = ama("-p", "x", "--model", script(turn, {"text": "I was not allowed to run it."}),
            "--cwd", str(repo), "--sandbox", "local", "--allowed-tools", "shell(ls*)",
            "--output-format", "json")
    assert r.code == 4
    res = r.result
    assert res["subtype"] == "error_permission_denied"
    assert res["permission_denials"][0]["tool_name"] == "shell"


def test_5_verification_never_passes_and_the_best_change_set_is_reported(ama, repo, script):
    r = ama("-p", "x", "--model", script(FIX, DONE, DONE, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--verify", "grep -q 'a \\* b' calc.py", "--max-verify", "2", "--output-format", "json")
    assert r.code == 5, r.stderr
    res = r.result
    assert res["subtype"] == "error_verification_failed"
    assert res["verification"]["attempts"] == 2 and res["verification"]["passed"] is False
    assert [f["path"] for f in res["changes"]["files"]] == ["calc.py"]


def test_verification_that_fails_then_passes_feeds_back_to_the_model(ama, repo, script):
    r = ama("-p", "x", "--model", script({"text": "done?"}, FIX, DONE), "--cwd", str(repo),
            "--sandbox", "local", "--verify", "grep -q 'a + b' calc.py", "--output-format", "ama-events")
    assert r.code == 0, r.stderr
    lines = [__import__("json").loads(x) for x in r.stdout.splitlines()]
    feedback = [x for x in lines if x["type"] == "user_message"][1]["text"]
    assert "verification command failed" in feedback and "grep -q 'a + b' calc.py" in feedback
    assert lines[-1]["verification"]["attempts"] == 2 and lines[-1]["verification"]["passed"]


def test_130_interrupt_stops_the_run_and_still_reports(ama_home, repo, script):
    import os
    slow = {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 30"}}]}
    env = {**os.environ, "AMA_HOME": str(ama_home)}
    proc = subprocess.Popen([sys.executable, "-m", "agent", "-p", "x", "--model", script(slow, DONE),
                             "--cwd", str(repo), "--sandbox", "local", "--output-format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait until the command is running
        if any(ama_home.glob("sessions/*.jsonl")) and "sleep 30" in next(ama_home.glob("sessions/*.jsonl")).read_text():
            break
        time.sleep(0.05)
    wait_until_running(("sleep", "30"))
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 5
    assert proc.returncode == 130, err
    assert __import__("json").loads(out.splitlines()[-1])["subtype"] == "error_interrupted"
