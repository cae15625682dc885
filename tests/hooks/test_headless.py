"""Hooks through the real `ama -p` (a subprocess; the `script:` model, `--sandbox local`):
the hook scripts are real processes, their stdin checked against the schema."""
from __future__ import annotations

import time

from tests.hooks.conftest import events, shell

DONE = {"text": "Done."}


def run(ama, repo, model, *extra):
    return ama("-p", "do the task", "--model", model, "--sandbox", "local", "--cwd", str(repo),
               "--output-format", "ama-events", *extra)


def tool_results(lines):
    return {e["call_id"]: e for e in lines if e["type"] == "tool_result"}


def hook_events(lines, event=None):
    return [e for e in lines if e["type"] == "hook" and (event is None or e["event"] == event)]


def changed(result):
    return sorted(f["path"] for f in result["changes"]["files"])


def test_exit_2_blocks_rm_the_model_reads_why_and_nothing_ran(ama, repo, user_hooks, script,
                                                              records):
    user_hooks(("PreToolUse", "block-rm", {"matcher": "shell"}))
    r = run(ama, repo, script(shell("rm calc.py"), shell("echo kept > kept.txt"), DONE))
    lines = events(r)
    assert r.code == 0, r.stderr
    results = tool_results(lines)
    assert results["call_1"]["is_error"]
    assert "rm is not allowed in this repository; move files to trash/ instead" in \
        results["call_1"]["output"]                         # what the model reads
    assert not results["call_2"]["is_error"]                 # the hook let this one through
    assert changed(r.result) == ["kept.txt"]                 # calc.py was never removed
    blocked = hook_events(lines, "PreToolUse")[0]
    assert (blocked["outcome"], blocked["exit_code"], blocked["call_id"]) == ("blocked", 2, "call_1")
    assert r.result["permission_denials"][0]["tool_input"] == {"command": "rm calc.py"}
    assert "⚑ PreToolUse hook" in r.stderr and "blocked" in r.stderr
    seen = [row["input"] for row in records()]
    assert [(s["hook_event_name"], s["tool_input"]["command"]) for s in seen] == [
        ("PreToolUse", "rm calc.py"), ("PreToolUse", "echo kept > kept.txt")]


def test_a_rewritten_call_runs_and_an_invalid_rewrite_is_refused(ama, repo, user_hooks, script):
    user_hooks(("PreToolUse", "rewrite", {"matcher": "shell"}),
               ("PreToolUse", "rewrite-invalid", {"matcher": "write_file"}))
    r = run(ama, repo, script(
        shell("echo one > out.txt"),
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "w.txt", "content": "x\n"}}]},
        DONE))
    lines = events(r)
    assert "+two" in r.result["changes"]["patch"] and "+one" not in r.result["changes"]["patch"]
    assert changed(r.result) == ["out.txt"]                  # w.txt was never written
    refused = tool_results(lines)["call_2"]
    assert refused["is_error"] and "rewrote the arguments of write_file, and they are invalid" \
        in refused["output"] and "path" in refused["output"]
    rewrite = hook_events(lines, "PreToolUse")[0]
    assert rewrite["updated_input"] == {"command": "echo two > out.txt"}


def test_a_crashing_hook_warns_and_on_failure_block_refuses(ama, repo, user_hooks, script):
    user_hooks(("PreToolUse", "crash", {"matcher": "shell"}),
               ("PreToolUse", "crash", {"matcher": "write_file", "on_failure": "block"}))
    r = run(ama, repo, script(
        shell("echo ran > ran.txt"),
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "w.txt", "content": "x\n"}}]},
        DONE))
    lines = events(r)
    results = tool_results(lines)
    assert not results["call_1"]["is_error"]                 # fail open: it ran, with a warning
    assert "PreToolUse hook" in r.stderr and "failed: exit code 1: Traceback: KeyError 'oops'" in r.stderr
    assert results["call_2"]["is_error"] and "failed: exit code 1" in results["call_2"]["output"]
    assert changed(r.result) == ["ran.txt"]                  # fail closed: w.txt never written
    assert [h["outcome"] for h in hook_events(lines)] == ["failed", "failed"]


def test_a_hanging_hook_is_killed_at_its_timeout(ama, repo, user_hooks, script):
    user_hooks(("PreToolUse", "hang", {"matcher": "shell", "timeout": 1}))
    started = time.monotonic()
    r = run(ama, repo, script(shell("echo after > after.txt"), DONE))
    assert time.monotonic() - started < 20          # not the hook's 30 s of sleep
    hook = hook_events(events(r))[0]
    assert hook["outcome"] == "timed_out" and hook["exit_code"] is None
    assert 1 <= hook["duration"] < 5
    assert "timed out after 1s" in r.stderr
    assert changed(r.result) == ["after.txt"]       # a timeout is a failure: warn and go on


def test_a_stop_hook_sends_the_model_back_once(ama, repo, user_hooks, script, records):
    user_hooks(("Stop", "stop-once"))
    r = run(ama, repo, script({"text": "Done early."}, {"text": "Ran the tests. Done."}))
    lines = events(r)
    assert r.code == 0 and r.result["result"] == "Ran the tests. Done."
    assert r.result["num_turns"] == 2
    sent_back = [e["text"] for e in lines if e["type"] == "user_message"][1]
    assert "the tests were not run; run them first" in sent_back
    assert [row["input"]["stop_hook_active"] for row in records()] == [False, True]


def test_stop_hooks_send_the_model_back_at_most_max_stop_returns(ama, repo, user_hooks, script):
    user_hooks(("Stop", "stop-always"), extra="[hooks]\nmax_stop_returns = 2\n")
    r = run(ama, repo, script(*({"text": f"Done {i}."} for i in range(5))))
    assert r.code == 0 and r.result["num_turns"] == 3 and r.result["result"] == "Done 2."
    assert "still objects after sending the model back 2 times" in r.stderr


def test_user_prompt_submit_can_block_the_prompt(ama, repo, user_hooks, script):
    user_hooks(("UserPromptSubmit", "block-prompt"))
    r = run(ama, repo, script(shell("echo never > never.txt"), DONE))
    assert r.code == 4 and r.result["subtype"] == "error_permission_denied"
    assert "prompts that mention secrets are refused" in r.result["result"]
    assert r.result["num_turns"] == 0 and changed(r.result) == []


def test_prompt_and_session_start_hooks_add_context(ama, repo, user_hooks, script):
    user_hooks(("SessionStart", "plain-context"), ("UserPromptSubmit", "context"))
    r = run(ama, repo, script(DONE))
    first = next(e["text"] for e in events(r) if e["type"] == "user_message")
    assert "deploys are frozen today" in first and "the build is red on main" in first
    assert first.rstrip().endswith("do the task")


def test_post_tool_use_exit_2_is_fed_to_the_model(ama, repo, user_hooks, script):
    user_hooks(("PostToolUse", "post-feedback", {"matcher": "shell|edit_file"}))
    r = run(ama, repo, script(shell("echo hi"), DONE))
    result = tool_results(events(r))["call_1"]
    assert not result["is_error"] and "hi" in result["output"]
    assert "lint: line 1 is too long" in result["output"]


def test_a_hook_denying_shell_holds_in_every_attempt(ama, repo, user_hooks, script, records):
    user_hooks(("PreToolUse", "deny", {"matcher": "shell"}))
    r = run(ama, repo, script(shell("echo x > x.txt"), DONE), "--attempts", "2")
    lines = events(r)
    denied = [e for e in lines if e["type"] == "permission_denied"]
    assert sorted(e["attempt"] for e in denied) == [0, 1]
    assert all("the hook says deny" in e["reason"] for e in denied)
    assert sorted(d["attempt"] for d in r.result["permission_denials"]) == [0, 1]
    assert r.result["subtype"] == "error_permission_denied" and changed(r.result) == []
    sessions = {row["input"]["session_id"] for row in records()}
    assert len(sessions) == 2                        # each attempt's own session ran the hook


def test_every_headless_event_reaches_its_hooks_with_valid_stdin(ama, repo, user_hooks, script,
                                                                 records):
    user_hooks(*((e, "ok") for e in ("SessionStart", "UserPromptSubmit", "PreToolUse",
                                     "PostToolUse", "Stop", "SessionEnd")))
    r = run(ama, repo, script(shell("echo hi"), DONE))
    assert r.code == 0, r.stderr
    rows = records()                                 # each validated against the schema
    assert [row["input"]["hook_event_name"] for row in rows] == [
        "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd"]
    first = rows[0]
    assert first["input"]["session_id"] == r.result["session_id"]
    assert first["input"]["transcript_path"].endswith(f"sessions/{r.result['session_id']}.jsonl")
    post = rows[3]["input"]
    assert post["tool_response"]["output"].startswith("hi\n") and post["tool_use_id"] == "call_1"
    assert post["tool_response"]["data"]["exit_code"] == 0 and not post["tool_response"]["is_error"]
    # hooks run in the scratch copy the tools changed; the project dir is the user's repo
    assert first["cwd"] == first["input"]["cwd"] != str(repo)
    assert first["env"]["AMA_PROJECT_DIR"] == first["env"]["CLAUDE_PROJECT_DIR"] == str(repo)
    assert [e["event"] for e in hook_events(events(r))][-1] == "SessionEnd"   # in the stream too
