"""The `task` tool through the real `ama -p` (a subprocess): `script:` models for the parent
and for each subagent, real tools, --sandbox local, real hook processes."""
from __future__ import annotations

import pytest

from agent.config.home import sessions_dir
from agent.session.log import read_session
from agent.session.store import rebuild_messages
from tests.ama_cli import commit_all
from tests.subagents.conftest import (DONE, call, define_agent, events, nested, results_of, shell,
                                      task, top_level)

READ_ONLY = "read_file, grep, list_files, repo_map, find_symbol"


def run(ama, repo, model, *extra):
    return ama("-p", "do the task", "--model", model, "--sandbox", "local", "--cwd", str(repo),
               "--output-format", "ama-events", *extra)


def usage(i, o):
    return {"input_tokens": i, "output_tokens": o}


def test_a_subagent_answers_its_parent_and_its_usage_rolls_up(ama, repo, script, user_agents):
    child = script(call("read_file", usage=usage(100, 10), path="calc.py"),
                   {"text": "add is in calc.py and subtracts", "usage": usage(200, 20)},
                   name="child.jsonl")
    define_agent(user_agents, "finder", tools="read_file, grep", model=child)
    parent = script({**task("find add", "where is add?", "finder"), "usage": usage(1000, 1)},
                    {"text": "Done: it subtracts.", "usage": usage(1000, 1)})
    r = run(ama, repo, parent)
    assert r.code == 0, r.stderr
    lines = events(r)
    [proposed] = [e for e in top_level(lines) if e["type"] == "tool_call"]
    [answer] = results_of(top_level(lines), "task")
    assert (answer["output"], answer["is_error"]) == ("add is in calc.py and subtracts", False)
    inner = nested(lines, proposed["call_id"])
    assert lines[lines.index(proposed) + 1:lines.index(answer)] == inner   # all of it nested
    assert inner[0] == {"type": "user_message", "parent_call_id": proposed["call_id"],
                        "text": "where is add?"}
    [read] = results_of(inner, "read_file")
    assert "return a - b" in read["output"]
    assert "→ task find add\n  → read_file calc.py\n" in r.stderr    # progress, indented
    result = r.result
    assert (result["usage"]["input_tokens"], result["usage"]["output_tokens"]) == (2300, 32)
    assert result["num_turns"] == 4 and result["result"] == "Done: it subtracts."
    # the log rebuilds the parent's conversation alone (what --continue sends again)
    log = read_session(sessions_dir() / f"{result['session_id']}.jsonl")
    messages = rebuild_messages(log)
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[2].content == "add is in calc.py and subtracts"
    # `ama sessions show` sets the subagent's lines in under its task call, the parent's stay flush
    shown = ama("sessions", "show", result["session_id"]).stdout
    assert "  → task " in shown and "    │ > where is add?" in shown and "    │   → read_file " in shown
    assert "    │ add is in calc.py and subtracts" in shown   # the child's answer, nested
    assert "\n    ✓ add is in calc.py and subtracts" in shown and "\nDone: it subtracts." in shown  # the parent's


def test_the_read_only_default_agent_cannot_write(ama, repo, script, user_config):
    child = script(call("write_file", path="new.txt", content="x\n"),
                   shell("touch made.txt"), {"text": "I can only look."}, name="child.jsonl")
    user_config(f'[subagents]\nmodel = "{child}"\n')      # the built-in agent's model
    r = run(ama, repo, script(task("write a file", "create new.txt"), DONE))
    assert r.code == 0, r.stderr
    lines = events(r)
    [answer] = results_of(lines, "task")
    assert answer["output"] == "I can only look."
    inner = nested(lines, answer["call_id"])
    refused = [e for e in inner if e["type"] == "tool_result"]
    assert [(e["name"], e["is_error"]) for e in refused] == [("write_file", True), ("shell", True)]
    for e in refused:
        assert e["output"] == f"unknown tool {e['name']!r}; available: {READ_ONLY}"
    assert r.result["changes"]["files"] == []


@pytest.mark.parametrize("attempts", [1, 2])
@pytest.mark.parametrize("policy", ["hook", "rule"])
def test_a_hook_or_a_deny_rule_holds_inside_a_subagent(ama, repo, script, user_agents,
                                                        user_config, records, policy, attempts):
    child = script(shell("touch made.txt"), {"text": "It was refused."}, name="child.jsonl")
    define_agent(user_agents, "worker", tools="shell, read_file", model=child)
    if policy == "hook":
        user_config(hooks=(("PreToolUse", "deny", {"matcher": "shell"}),))
        why = "a PreToolUse hook blocked it: the hook says deny"
    else:
        user_config('[permissions]\ndeny = ["shell(touch*)"]\n')
        why = "denied by rule shell(touch*)"
    parent = script(task("make a file", "run touch made.txt", "worker"), DONE)
    r = run(ama, repo, parent, *(("--attempts", str(attempts)) if attempts > 1 else ()))
    lines = events(r)
    denied = [e for e in lines if e["type"] == "permission_denied"]
    assert len(denied) == attempts and all(e["parent_call_id"] for e in denied), r.stderr
    assert all(e["reason"] == why for e in denied)
    assert [e["output"] for e in results_of(lines, "task")] == ["It was refused."] * attempts
    # the child's denial is the run's (every attempt's): reported, and (nothing changed) exit 4
    assert [d["reason"] for d in r.result["permission_denials"]] == [why] * attempts
    assert r.code == 4 and r.result["changes"]["files"] == []
    if policy == "hook":
        seen = [(x["input"]["hook_event_name"], x["input"]["tool_name"]) for x in records()]
        assert seen == [("PreToolUse", "shell")] * attempts


def test_an_untrusted_repositorys_agents_are_not_used_until_trusted(ama, repo, script):
    child = script({"text": "", "tool_calls": [{"id": "child_1", "name": "read_file",
                                                 "arguments": {"path": "calc.py"}}]},
                   {"text": "found it"}, name="child.jsonl")
    define_agent(repo / ".ama" / "agents", "finder", tools="read_file", model=child)
    commit_all(repo, "agents")
    parent = script(task("find add", "where is add?", "finder"), DONE)
    r = run(ama, repo, parent)
    [answer] = results_of(events(r), "task")
    assert answer["is_error"] and answer["output"] == "unknown agent 'finder'; the agents are: explore"
    r = run(ama, repo, parent, "--trust")
    [answer] = results_of(events(r), "task")
    assert (answer["output"], answer["is_error"]) == ("found it", False)
    assert r.code == 0, r.stderr


def test_an_agent_naming_a_missing_tool_or_a_bad_model_is_a_warning(ama, repo, script,
                                                                     user_agents):
    typo = define_agent(user_agents, "typo", tools="read_file, grepp", model="script:x.jsonl")
    vague = define_agent(user_agents, "vague", model="sonnet")
    r = run(ama, repo, script(task("look", "look around", "typo"), DONE))
    assert f"{typo}: agent typo not used: no tool grepp here" in r.stderr
    assert f"{vague}: agent vague not used: model 'sonnet' has no provider" in r.stderr
    [answer] = results_of(events(r), "task")
    assert answer["output"] == "unknown agent 'typo'; the agents are: explore"


def test_claude_stream_json_nests_a_subagents_messages_under_its_task_call(ama, repo, script,
                                                                           user_agents):
    import json
    child = script({"text": "", "tool_calls": [{"id": "child_1", "name": "read_file",
                                                 "arguments": {"path": "calc.py"}}]},
                   {"text": "found it"}, name="child.jsonl")
    define_agent(user_agents, "finder", tools="read_file", model=child)
    parent = script(task("find add", "where is add?", "finder"), {"text": "Done."})
    r = ama("-p", "do the task", "--model", parent, "--sandbox", "local", "--cwd", str(repo),
            "--output-format", "stream-json")
    assert r.code == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    uses = [b for m in lines if m["type"] == "assistant" for b in m["message"]["content"]
            if b["type"] == "tool_use"]
    [task_use] = [b for b in uses if b["name"] == "task"]
    [read_use] = [b for b in uses if b["name"] == "read_file"]
    owner = {b["id"]: m["parent_tool_use_id"] for m in lines if m["type"] == "assistant"
             for b in m["message"]["content"] if b["type"] == "tool_use"}
    assert owner[task_use["id"]] is None and owner[read_use["id"]] == task_use["id"]
