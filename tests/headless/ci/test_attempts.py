"""`--attempts N`: independent attempts, the best passing one chosen, all reported."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.ama_cli import wait_until_running
from .conftest import DONE, containers_of, edit, shell, workspaces

VERIFY = "grep -q 'a + b' calc.py"


def test_three_attempts_only_the_second_passes_and_wins(ama, ama_home, repo, scripts, valid):
    model = scripts([edit("a * b"), DONE], [edit("a + b"), DONE], [edit("b - a"), DONE])
    r = ama("-p", "fix add", "--model", model, "--cwd", str(repo), "--sandbox", "local",
            "--attempts", "3", "--verify", VERIFY, "--max-verify", "1", "--output-format", "json")
    assert r.code == 0, r.stderr
    res = valid(r.result)
    assert res["chosen"] == 1 and res["subtype"] == "success"
    assert [a["attempt"] for a in res["attempts"]] == [0, 1, 2]
    assert [a["subtype"] for a in res["attempts"]] == [
        "error_verification_failed", "success", "error_verification_failed"]
    assert [a["verification"]["passed"] for a in res["attempts"]] == [False, True, False]
    assert all(a["diff"] == {"files": 1, "additions": 1, "deletions": 1} for a in res["attempts"])
    assert "+    return a + b" in res["changes"]["patch"]
    assert res["verification"]["passed"] and res["num_turns"] == 6
    assert res["usage"]["input_tokens"] == sum(a["usage"]["input_tokens"] for a in res["attempts"])
    # Each attempt ran in its own session, logged on its own. With --apply patch only
    # the winner's scratch copy is kept (for `ama review`), as after a single run.
    for a in res["attempts"]:
        assert (ama_home / "sessions" / f"{a['session_id']}.jsonl").is_file()
    assert [p.name for p in workspaces(ama_home)] == [res["attempts"][1]["session_id"]]
    assert "[attempt 0]" in r.stderr and "[attempt 2]" in r.stderr


def test_smallest_change_set_wins_among_passing_attempts(ama, repo, scripts, valid):
    big = [edit("a + b"), {"tool_calls": [{"name": "write_file", "arguments": {
        "path": "NOTES.md", "content": "one\ntwo\nthree\n"}}]}, DONE]
    model = scripts(big, [edit("a + b"), DONE])
    r = ama("-p", "fix", "--model", model, "--cwd", str(repo), "--sandbox", "local",
            "--attempts", "2", "--verify", VERIFY, "--output-format", "json")
    assert r.code == 0, r.stderr
    res = valid(r.result)
    assert res["chosen"] == 1 and [f["path"] for f in res["changes"]["files"]] == ["calc.py"]
    assert [a["diff"]["files"] for a in res["attempts"]] == [2, 1]


def test_select_first_takes_the_first_to_pass_and_stops_the_others(ama, repo, scripts, valid):
    slow = [shell("sleep 20"), edit("a + b"), DONE]
    model = scripts(slow, [edit("a + b"), {"tool_calls": [{"name": "write_file", "arguments": {
        "path": "NOTES.md", "content": "more\n"}}]}, DONE])
    started = time.monotonic()
    r = ama("-p", "fix", "--model", model, "--cwd", str(repo), "--sandbox", "local",
            "--attempts", "2", "--select", "first", "--verify", VERIFY, "--output-format", "json")
    assert r.code == 0, r.stderr
    assert time.monotonic() - started < 15  # the sleeping attempt was stopped
    res = valid(r.result)
    assert res["chosen"] == 1 and res["select"] == "first"
    assert res["attempts"][0]["subtype"] == "error_interrupted"
    assert res["attempts"][0]["result"] == "stopped: attempt 1 passed first"


def test_parallel_bounds_how_many_run_at_once(ama, ama_home, repo, scripts, valid):
    # Each attempt records when it ran; with --parallel 1 the intervals never overlap.
    turn = shell("date +%s.%N >> ../../times; sleep 0.3; date +%s.%N >> ../../times")
    model = scripts([turn, DONE], [turn, DONE], [turn, DONE])
    r = ama("-p", "x", "--model", model, "--cwd", str(repo), "--sandbox", "local",
            "--attempts", "3", "--parallel", "1", "--output-format", "json")
    assert r.code == 0, r.stderr
    times = [float(t) for t in (ama_home / "workspaces" / "times").read_text().split()]
    assert len(times) == 6 and times == sorted(times)
    valid(r.result)


def test_none_passes_exit_5_with_the_best_change_set(ama, repo, scripts, valid, tmp_path):
    model = scripts([DONE], [edit("a * b"), DONE])
    out = tmp_path / "best.patch"
    r = ama("-p", "fix", "--model", model, "--cwd", str(repo), "--sandbox", "local",
            "--attempts", "2", "--verify", VERIFY, "--max-verify", "1", "--patch-out", str(out),
            "--output-format", "json")
    assert r.code == 5, r.stderr
    res = valid(r.result)
    assert res["chosen"] is None and res["applied"] is None
    assert res["subtype"] == "error_verification_failed"
    assert "+    return a * b" in res["changes"]["patch"] == out.read_text()


def test_costs_add_up_over_attempts(ama, repo, scripts, valid):
    paid = {"text": "done", "usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.25}}
    r = ama("-p", "x", "--model", scripts([paid], [paid], [paid]), "--cwd", str(repo),
            "--sandbox", "local", "--attempts", "3", "--output-format", "json")
    res = valid(r.result)
    assert res["total_cost_usd"] == pytest.approx(0.75)
    assert res["usage"]["output_tokens"] == 15
    assert [a["total_cost_usd"] for a in res["attempts"]] == [0.25, 0.25, 0.25]


def test_ama_events_tags_each_event_with_its_attempt(ama, repo, scripts):
    r = ama("-p", "x", "--model", scripts([DONE], [DONE]), "--cwd", str(repo),
            "--sandbox", "local", "--attempts", "2", "--output-format", "ama-events")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[-1]["type"] == "result" and "attempt" not in lines[-1]
    assert {x["attempt"] for x in lines[:-1]} == {0, 1}
    assert sum(x["type"] == "session_started" for x in lines) == 2


@pytest.mark.parametrize("args, message", [
    (["--attempts", "0"], "--attempts must be at least 1"),
    (["--attempts", "2", "--parallel", "0"], "--parallel must be at least 1"),
    (["--attempts", "2", "--select", "best"], "--select 'best'"),
])
def test_bad_attempt_flags_exit_2(ama, repo, scripts, args, message):
    r = ama("-p", "x", "--model", scripts([DONE]), "--cwd", str(repo), *args)
    assert r.code == 2 and message in r.stderr


@pytest.mark.docker
def test_three_docker_attempts_leave_no_container(ama, ama_home, repo, scripts, valid,
                                                  docker_sandbox):
    model = scripts([edit("a * b"), DONE], [edit("a + b"), DONE], [edit("b - a"), DONE])
    r = ama("-p", "fix add", "--model", model, "--cwd", str(repo), "--sandbox", "docker",
            "--attempts", "3", "--verify", VERIFY, "--max-verify", "1", "--output-format", "json",
            "--apply", "branch:ama/fix", timeout=180)
    assert r.code == 0, r.stderr
    res = valid(r.result)
    assert res["chosen"] == 1 and len(res["attempts"]) == 3
    shown = subprocess.run(["git", "-C", str(repo), "show", "ama/fix:calc.py"], text=True,
                           capture_output=True, check=True).stdout
    assert "return a + b" in shown
    assert containers_of(res["session_id"]) == []
    assert workspaces(ama_home) == []


@pytest.mark.docker
def test_interrupt_stops_every_docker_attempt_and_leaves_nothing(ama_home, repo, scripts,
                                                                 docker_sandbox):
    slow = [shell("sleep 60"), DONE]
    env = {**os.environ, "AMA_HOME": str(ama_home)}
    proc = subprocess.Popen([sys.executable, "-m", "agent", "-p", "x", "--model",
                             scripts(slow, slow, slow), "--cwd", str(repo), "--sandbox", "docker",
                             "--attempts", "3", "--output-format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # until all three run their command
        logs = list(ama_home.glob("sessions/*-a[0-9].jsonl"))
        if len(logs) == 3 and all("sleep 60" in p.read_text() for p in logs):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the attempts never started their commands: " + proc.communicate()[1])
    wait_until_running(("sleep", "60"), count=3, timeout=60)
    session = logs[0].name.rsplit("-a", 1)[0]
    assert len(containers_of(session)) == 3
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 20
    res = json.loads(out.splitlines()[-1])
    assert res["subtype"] == "error_interrupted"
    assert [a["subtype"] for a in res["attempts"]] == ["error_interrupted"] * 3
    assert containers_of(session) == []
    assert workspaces(ama_home) == []
