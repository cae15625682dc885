"""Sessions: rebuilding the conversation from the log, SIGKILL then --continue, list/show/rm."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from agent.session.log import read_session
from agent.session.store import INTERRUPTED_REPLY, INTERRUPTED_TOOL, rebuild_messages
from agent.core.types import Message, ToolCall

from tests.config.conftest import DONE, env_for
from tests.models.wire_servers import Reply, ScriptedServer, openai_turn


def call(cid, name, **args):
    return {"id": cid, "name": name, "arguments": args}


def test_rebuild_messages_exactly():
    a1 = Message("assistant", "looking", tool_calls=(ToolCall("c1", "read_file", {"path": "a"}),))
    log = [
        {"type": "session_started"}, {"type": "user_message", "text": "task one"},
        {"type": "text_delta", "text": "looking"},
        {"type": "assistant_message", "message": a1.to_dict()},
        {"type": "tool_call", "call_id": "c1", "name": "read_file", "arguments": {"path": "a"}},
        {"type": "tool_result", "call_id": "c1", "name": "read_file", "output": "x = 1", "is_error": False},
        {"type": "assistant_message", "message": {"role": "assistant", "content": "done"}},
        {"type": "result", "subtype": "success"},
        {"type": "user_message", "text": "task two"},
        {"type": "assistant_message", "message": {"role": "assistant", "content": "ok"}},
    ]
    assert rebuild_messages(log) == [
        Message("user", "task one"), a1,
        Message("tool", "x = 1", tool_call_id="c1", name="read_file"),
        Message("assistant", "done"), Message("user", "task two"), Message("assistant", "ok")]


def test_rebuild_repairs_a_cut_off_log():
    two = {"role": "assistant", "content": "", "tool_calls": [call("c1", "shell", command="ls"),
                                                            call("c2", "shell", command="pwd")]}
    log = [{"type": "user_message", "text": "t"}, {"type": "assistant_message", "message": two},
           {"type": "tool_result", "call_id": "c1", "name": "shell", "output": "a", "is_error": False},
           {"type": "user_message", "text": "next"}]
    msgs = rebuild_messages(log)
    assert [m.role for m in msgs] == ["user", "assistant", "tool", "tool", "user", "assistant"]
    assert msgs[3].tool_call_id == "c2" and msgs[3].content == INTERRUPTED_TOOL and msgs[3].is_error
    assert msgs[5].content == INTERRUPTED_REPLY


def test_rebuild_follows_compaction():
    log = [{"type": "user_message", "text": "old"},
           {"type": "assistant_message", "message": {"role": "assistant", "content": "old reply"}},
           {"type": "compacted", "summary": "s", "tokens_before": 9, "tokens_after": 1,
            "messages": [{"role": "user", "content": "summary + old"}]},
           {"type": "assistant_message", "message": {"role": "assistant", "content": "new"}}]
    assert rebuild_messages(log) == [Message("user", "summary + old"), Message("assistant", "new")]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_sigkill_mid_turn_then_continue(ama, home, repo, script, tmp_path):
    write = {"text": "writing", "tool_calls": [{"name": "write_file", "arguments": {
        "path": "new.txt", "content": "hello from run one\n"}}]}
    slow = {"text": " ".join(["thinking"] * 200), "delay": 0.5}
    first = script(write, slow, DONE, name="first.jsonl")
    proc = subprocess.Popen([sys.executable, "-m", "agent", "-p", "first task", "--model", first,
                             "--cwd", str(repo), "--sandbox", "local", "--output-format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env_for(home))
    sessions = home / "ama" / "sessions"

    def in_turn_two() -> bool:
        logs = list(sessions.glob("*.jsonl"))
        if not logs:
            return False
        text = logs[0].read_text()
        return '"checkpoint"' in text and '"turn": 2' in text and '"text_delta"' in text.split('"turn": 2')[-1]
    try:
        wait_for(in_turn_two)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    [log] = list(sessions.glob("*.jsonl"))
    sid = log.stem
    assert not any(e["type"] == "result" for e in read_session(log))
    tree = home / "ama" / "workspaces" / sid / "tree"
    assert (tree / "new.txt").is_file()
    (tree / "stray.txt").write_text("a side effect after the last checkpoint\n")

    # The continued run talks to a loopback OpenAI-compatible server that records requests.
    replies = [Reply(frames=openai_turn(tool_calls=[("r1", "read_file", [json.dumps({"path": "new.txt"})])])),
               Reply(frames=openai_turn(text=["Read it."]))]
    with ScriptedServer(replies) as server:
        r = ama("-p", "second task", "--continue", "--model", f"openai-compat:m@{server.url}/v1",
                "--cwd", str(repo), "--sandbox", "local", "--output-format", "json")
        sent = [m for m in server.requests[0].json["messages"] if m["role"] != "system"]
    assert r.code == 0, r.stderr
    res = r.result
    assert res["session_id"] == sid
    assert [f["path"] for f in res["changes"]["files"]] == ["new.txt"]     # stray.txt was rolled back
    # The resumed model saw the same conversation: first task, its tool call and result, then this one.
    assert sent[0] == {"role": "user", "content": "first task"}
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"][0]["function"]["name"] == "write_file"
    assert sent[2]["role"] == "tool" and sent[2]["tool_call_id"] == sent[1]["tool_calls"][0]["id"]
    assert sent[-1] == {"role": "user", "content": "second task"}
    results = [e for e in read_session(log) if e["type"] == "tool_result"]
    assert "hello from run one" in results[-1]["output"]
    started = [e for e in read_session(log) if e["type"] == "session_started"]
    assert [e["resumed"] for e in started] == [False, True]


def test_resume_by_id_and_errors(ama, home, repo, script, tmp_path):
    r1 = ama("-p", "one", "--model", script(DONE, name="a.jsonl"), "--cwd", str(repo),
             "--sandbox", "local", "--output-format", "json")
    sid = r1.result["session_id"]
    r2 = ama("-p", "two", "--resume", sid[:-2], "--model", script(DONE, name="b.jsonl"),
             "--cwd", str(repo), "--sandbox", "local", "--output-format", "json")
    assert r2.code == 0 and r2.result["session_id"] == sid, r2.stderr
    r3 = ama("-p", "three", "--resume", "--model", script(DONE, name="c.jsonl"),   # no ID: the latest
             "--cwd", str(repo), "--sandbox", "local", "--output-format", "json")
    assert r3.code == 0 and r3.result["session_id"] == sid, r3.stderr
    assert ama("-p", "x", "--resume", "nosuch", "--cwd", str(repo)).code == 2
    other = tmp_path / "other"
    other.mkdir()
    r = ama("-p", "x", "--continue", "--cwd", str(other), "--model", script(DONE))
    assert r.code == 2 and "no earlier session" in r.stderr
    r = ama("-p", "x", "--resume", sid, "--cwd", str(other), "--model", script(DONE))
    assert r.code == 2 and f"belongs to {repo}" in r.stderr


def test_sessions_list_show_rm(ama, home, repo, script):
    fix = {"text": "fixing", "tool_calls": [{"name": "edit_file", "arguments": {
        "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]}
    r = ama("-p", "fix add", "--model", script(fix, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--output-format", "json")
    sid = r.result["session_id"]
    listed = ama("sessions", "list")
    assert sid in listed.stdout and "fix add" in listed.stdout and "success" in listed.stdout
    rows = [json.loads(l) for l in ama("sessions", "list", "--json", "--cwd", str(repo)).stdout.splitlines()]
    assert rows[0]["id"] == sid and rows[0]["workspace"] is True and rows[0]["runs"] == 1
    shown = ama("sessions", "show", sid)
    assert "> fix add" in shown.stdout and "→ edit_file" in shown.stdout and "result: success" in shown.stdout
    assert ama("sessions", "show", "nosuch").code == 2
    assert ama("sessions", "rm", sid).code == 0
    assert not (home / "ama" / "sessions" / f"{sid}.jsonl").exists()
    assert not (home / "ama" / "workspaces" / sid).exists()
    assert sid not in ama("sessions", "list").stdout
