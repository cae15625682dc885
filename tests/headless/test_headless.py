"""`ama -p` end to end, as a subprocess: result object, ama-events, apply modes."""
from __future__ import annotations

import json
import subprocess

from agent.session.log import read_session

from .conftest import DONE, FIX


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def test_json_result_reports_the_change_set_and_leaves_the_tree_alone(ama, repo, script, ama_home):
    r = ama("-p", "fix add", "--model", script(FIX, DONE), "--cwd", str(repo),
            "--sandbox", "local", "--output-format", "json")
    assert r.code == 0, r.stderr
    res = r.result
    assert (res["type"], res["subtype"], res["is_error"]) == ("result", "success", False)
    assert res["result"] == "Fixed add." and res["num_turns"] == 2
    assert [f["path"] for f in res["changes"]["files"]] == ["calc.py"]
    assert "-    return a - b\n+    return a + b" in res["changes"]["patch"]
    assert set(res["usage"]) >= {"input_tokens", "output_tokens"} and res["total_cost_usd"] == 0
    assert res["permission_denials"] == [] and res["verification"] is None
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert git(repo, "status", "--porcelain") == ""
    # the session log holds every event and the result, one JSON object a line
    log = ama_home / "sessions" / f"{res['session_id']}.jsonl"
    records = list(read_session(log))
    types = [x["type"] for x in records]
    assert types[-1] == "result" and "tool_call" in types and "change_set" in types
    assert len(log.read_text().splitlines()) == len(records)


def test_ama_events_is_one_event_a_line_with_the_result_last(ama, repo, script):
    r = ama("-p", "fix add", "--model", script(FIX, DONE), "--cwd", str(repo),
            "--sandbox", "local", "--output-format", "ama-events")
    assert r.code == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    types = [x["type"] for x in lines]
    assert types[-1] == "result" and types.count("result") == 1
    for t in ("session_started", "user_message", "turn_started", "text_delta", "tool_call",
              "tool_result", "checkpoint", "turn_ended", "change_set"):
        assert t in types, t
    assert types.index("tool_call") < types.index("tool_result") < types.index("change_set")


def test_text_output_puts_the_answer_on_stdout_and_progress_on_stderr(ama, repo, script):
    r = ama("-p", "fix add", "--model", script(FIX, DONE), "--cwd", str(repo), "--sandbox", "local")
    assert r.code == 0
    assert r.stdout == "Fixed add.\n"
    assert "edit_file calc.py" in r.stderr


def test_task_from_stdin_and_exec_alias(ama, repo, script):
    r = ama("exec", "-", "--model", script(DONE), "--cwd", str(repo), "--sandbox", "local",
            "--output-format", "json", stdin="please do nothing\n")
    assert r.code == 0
    assert r.result["subtype"] == "success"


def test_apply_tree_writes_the_users_tree(ama, repo, script):
    r = ama("-p", "fix", "--model", script(FIX, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--apply", "tree", "--output-format", "json")
    assert r.code == 0, r.stderr
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert r.result["applied"]["mode"] == "tree"


def test_apply_branch_makes_exactly_one_commit(ama, repo, script):
    head = git(repo, "rev-parse", "HEAD").strip()
    r = ama("-p", "fix", "--model", script(FIX, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--apply", "branch:ama/fix-add", "--output-format", "json")
    assert r.code == 0, r.stderr
    assert git(repo, "rev-list", "--count", f"{head}..ama/fix-add").strip() == "1"
    assert git(repo, "show", "--format=%s", "--name-only", "ama/fix-add").split() == ["Fixed", "add.", "calc.py"]
    assert (repo / "calc.py").read_text().endswith("a - b\n")


def test_apply_commit_and_patch_out(ama, repo, script, tmp_path):
    out = tmp_path / "change.patch"
    r = ama("-p", "fix", "--model", script(FIX, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--patch-out", str(out), "--output-format", "json")
    assert r.code == 0 and "+    return a + b" in out.read_text()
    subprocess.run(["git", "-C", str(repo), "apply", "--check", str(out)], check=True)
    r = ama("-p", "fix", "--model", script(FIX, DONE, name="t.jsonl"), "--cwd", str(repo),
            "--sandbox", "local", "--apply", "commit", "--output-format", "json")
    assert r.code == 0, r.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "Fixed add."
    assert git(repo, "status", "--porcelain") == ""


def test_non_git_folder(ama, tmp_path, script):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    r = ama("-p", "fix", "--model", script(FIX, DONE), "--cwd", str(folder), "--sandbox", "local",
            "--apply", "tree", "--output-format", "json")
    assert r.code == 0, r.stderr
    assert (folder / "calc.py").read_text().endswith("a + b\n")
    assert not (folder / ".git").exists()


def test_started_in_a_subdirectory_the_shell_starts_there(ama, repo, script):
    sub = repo / "pkg" / "inner"
    sub.mkdir(parents=True)
    (sub / "mod.py").write_text("x = 1\n")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    pwd = {"tool_calls": [{"name": "shell", "arguments": {"command": "pwd; ls"}}]}
    r = ama("-p", "where am I", "--model", script(pwd, DONE), "--cwd", str(sub), "--sandbox", "local",
            "--output-format", "ama-events")
    assert r.code == 0, r.stderr
    out = next(json.loads(x) for x in r.stdout.splitlines() if json.loads(x)["type"] == "tool_result")
    first_line = out["output"].splitlines()[0]
    assert first_line.endswith("/tree/pkg/inner") and "mod.py" in out["output"]


def test_max_cost_with_an_unpriced_model_says_it_cannot_stop_the_run(ama, repo, tmp_path):
    # a loopback Chat Completions server answering one plain-text turn
    from tests.models.wire_servers import Reply, ScriptedServer, openai_turn
    with ScriptedServer([Reply(frames=openai_turn(text=["hello"]))]) as server:
        r = ama("-p", "hi", "--model", f"openai-compat:no-such-price@{server.url}/v1",
                "--cwd", str(repo), "--sandbox", "local", "--max-cost", "1", "--output-format", "json")
    assert r.code == 0, r.stderr
    assert "no price is known for openai-compat:no-such-price" in r.stderr
