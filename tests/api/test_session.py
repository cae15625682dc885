"""The Python API on real git repositories with the `script:` model and the local sandbox:
options as the CLI's flags, run / stream / astream, approvals, the typed result, and the
change set applied (tree, commit, branch) or discarded."""
from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import subprocess
import threading
import time

import jsonschema
import pytest

from agent.api import (Approval, ChangesReady, Denied, Finished, Result, Text, ToolResult, ToolUse,
                       TurnStarted, UsageUpdate, open_session)
from agent.api.session import HEADLESS_ONLY
from agent.config.home import sessions_dir, workspaces_dir
from agent.core import events as core_events
from agent.core.errors import BadInput
from agent.schemas import load_schema
from agent.session.settle import Flags
from tests.ama_cli import isolated_env, run_ama

EDIT = {"text": "Fixing.", "tool_calls": [{"name": "edit_file", "arguments": {
    "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]}
NOTE = {"text": "", "tool_calls": [{"name": "write_file", "arguments": {
    "path": "NOTES.md", "content": "fixed\n"}}]}
DONE = {"text": "Fixed add."}


def shell(command: str) -> dict:
    return {"text": "", "tool_calls": [{"name": "shell", "arguments": {"command": command}}]}


def git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def test_open_session_takes_the_clis_flags():
    """Every session flag of `ama` is a keyword of the same name; only the API's own
    (approve, focus) and the one-run flags of `ama -p` differ."""
    keywords = set(inspect.signature(open_session).parameters) - {"approve", "focus"}
    assert keywords == {f.name for f in dataclasses.fields(Flags)} - HEADLESS_ONLY
    assert HEADLESS_ONLY <= {f.name for f in dataclasses.fields(Flags)}


def test_run_gives_the_typed_result_of_the_cli(repo, script, home):
    with open_session(repo, model=script(EDIT, DONE), sandbox="local") as session:
        result = session.run("fix add")
        assert isinstance(result, Result)
        assert (result.subtype, result.exit_code, result.is_error) == ("success", 0, False)
        assert result.result == "Fixed add." and result.num_turns == 2
        assert result.session_id == session.id and result.model == session.model
        assert result.changes.paths == ("calc.py",) and "+    return a + b" in result.changes.patch
        assert result.changes.files[0].status == "modified"
        assert (result.changes.files[0].additions, result.changes.files[0].deletions) == (1, 1)
        assert result.usage.output_tokens > 0 and result.denials == () and result.error is None
        record = result.to_dict()
        jsonschema.validate(record, load_schema("result"))
        assert record["changes"]["patch"] == result.changes.patch
        assert "a - b" in (repo / "calc.py").read_text()   # your tree waits for apply()
        assert session.changes() == result.changes
    log = [json.loads(line) for line in (sessions_dir() / f"{result.session_id}.jsonl").open()]
    assert log[-1]["type"] == "result" and log[-1]["subtype"] == "success"


def test_stream_yields_typed_events_ending_in_the_result(repo, script, home):
    with open_session(repo, model=script(EDIT, DONE), sandbox="local") as session:
        events = list(session.stream("fix add"))
    assert not any(isinstance(e, core_events.Event) for e in events)   # the API's own types
    kinds = [type(e) for e in events]
    assert kinds[-1] is Finished and kinds.count(Finished) == 1
    assert TurnStarted in kinds and UsageUpdate in kinds
    assert "".join(e.text for e in events if isinstance(e, Text)) == "Fixing.Fixed add."
    [use] = [e for e in events if isinstance(e, ToolUse)]
    assert use.name == "edit_file" and use.arguments["path"] == "calc.py"
    [done] = [e for e in events if isinstance(e, ToolResult)]
    assert done.call_id == use.call_id and not done.is_error
    [ready] = [e for e in events if isinstance(e, ChangesReady)]
    assert ready.changes == events[-1].result.changes and ready.changes.paths == ("calc.py",)


def test_approvals_go_to_the_callback_typed_and_read_only(repo, script, home):
    asked = []

    def approve(call: ToolUse, reason: str) -> bool:
        asked.append((call.name, call.arguments["command"], reason))
        with pytest.raises(TypeError):
            call.arguments["command"] = "rm -rf /"   # type: ignore[index]
        return call.arguments["command"] == "echo allowed"

    with open_session(repo, model=script(shell("echo allowed"), shell("echo refused"), DONE),
                      sandbox="local", approve=approve) as session:
        result = session.run("run two commands")
    assert [a[1] for a in asked] == ["echo allowed", "echo refused"]
    assert "--sandbox local" in asked[0][2]
    [denial] = result.denials
    assert denial.tool_name == "shell" and denial.arguments["command"] == "echo refused"
    assert "not approved" in denial.reason


def test_without_an_approver_an_ask_is_a_denial(repo, script, home):
    with open_session(repo, model=script(shell("echo hi"), DONE), sandbox="local",
                      config=['permissions.ask=["shell"]']) as session:
        result = session.run("run it")
    [denial] = result.denials
    assert denial.arguments["command"] == "echo hi" and "no one to ask" in denial.reason


def test_astream_awaits_an_async_approver_on_the_callers_loop(repo, script, home):
    seen = []

    async def approve(call: ToolUse, reason: str) -> bool:
        seen.append(threading.get_ident())
        await asyncio.sleep(0.01)
        return call.arguments["command"] != "echo refused"

    async def main():
        async with open_session(repo, model=script(shell("echo ok"), shell("echo refused"), DONE),
                                sandbox="local", approve=approve) as session:
            return threading.get_ident(), [e async for e in session.astream("two commands")]

    loop_thread, events = asyncio.run(main())
    assert seen == [loop_thread, loop_thread]
    assert [type(e) for e in events].count(Approval) == 2
    [denied] = [e for e in events if isinstance(e, Denied)]
    assert denied.arguments["command"] == "echo refused"
    outputs = [e.output for e in events if isinstance(e, ToolResult)]
    assert any("ok" in o for o in outputs)
    # nothing changed and a call was refused: blocked by permissions, as `ama -p` says it
    assert isinstance(events[-1], Finished) and events[-1].result.exit_code == 4


def test_leaving_a_stream_early_interrupts_the_task(repo, script, home):
    slow = {"text": "word " * 40, "delay": 0.25}   # ten seconds if it ran to the end
    with open_session(repo, model=script(slow, DONE), sandbox="local") as session:
        started = time.monotonic()
        for event in session.stream("talk slowly"):
            if isinstance(event, Text):
                break
        assert time.monotonic() - started < 5
        session_id = session.id
        after = session.run("and now?")          # the session is free again
    assert after.subtype == "success"
    results = [json.loads(line) for line in (sessions_dir() / f"{session_id}.jsonl").open()
               if '"type": "result"' in line]
    assert [r["subtype"] for r in results] == ["error_interrupted", "success"]


def test_apply_takes_files_leaves_conflicts_and_discard_reverts(repo, script, home):
    with open_session(repo, model=script(EDIT, NOTE, DONE), sandbox="local") as session:
        assert session.run("fix and note").changes.paths == ("NOTES.md", "calc.py")
        (repo / "calc.py").write_text("def add(a, b):\n    return b - a\n")   # you edit meanwhile
        applied = session.apply()
        assert applied.paths == ("NOTES.md",) and list(applied.conflicts) == ["calc.py"]
        assert (repo / "NOTES.md").read_text() == "fixed\n"
        assert "b - a" in (repo / "calc.py").read_text()           # yours, untouched
        assert session.changes().paths == ("calc.py",)             # still pending
        assert session.discard(["calc.py"]) == ("calc.py",)
        assert session.changes().empty
        with pytest.raises(BadInput, match="not in the change set: nope.py"):
            session.apply(["nope.py"])


def test_apply_commit_and_branch(repo, script, home):
    with open_session(repo, model=script(EDIT, DONE), sandbox="local") as session:
        session.run("fix add")
        applied = session.apply(mode="commit", message="Fix add\n\nIt subtracted.",
                                author="Bot <bot@example.com>")
        assert applied.paths == ("calc.py",) and applied.commit == git(repo, "rev-parse", "HEAD").strip()
        assert git(repo, "log", "-1", "--format=%s|%an") == "Fix add|Bot\n"
        assert git(repo, "status", "--porcelain") == "" and session.changes().empty
    with open_session(repo, model=script(NOTE, DONE), sandbox="local") as session:
        session.run("note it")
        applied = session.apply(mode="branch:ama/notes")
        assert applied.branch == "ama/notes"
        assert git(repo, "log", "-1", "--format=%s", "ama/notes") == "Fixed add.\n"   # the answer
        assert not (repo / "NOTES.md").exists() and session.changes().paths == ("NOTES.md",)
        with pytest.raises(BadInput, match="--apply 'sideways'"):
            session.apply(mode="sideways")
        with pytest.raises(BadInput, match="whole change set"):
            session.apply(["NOTES.md"], mode="commit")


def test_options_mean_what_the_flags_mean(repo, script, home):
    with open_session(repo, model=script(EDIT, DONE), sandbox="local", max_turns=1) as session:
        result = session.run("fix add")
    assert (result.subtype, result.exit_code) == ("error_max_turns", 3)
    with open_session(repo, model=script(EDIT, DONE), sandbox="local",
                      config=["max_turns=1"]) as session:
        assert session.run("fix add").subtype == "error_max_turns"
    with open_session(repo, model=script(EDIT, DONE), sandbox="local",
                      permission_mode="plan") as session:
        events = list(session.stream("fix add"))
    assert [e.name for e in events if isinstance(e, Denied)] == ["edit_file"]
    assert events[-1].result.changes.empty
    with pytest.raises(BadInput, match="--sandbox 'nowhere'"):
        open_session(repo, model=script(DONE), sandbox="nowhere")
    with pytest.raises(BadInput, match="list of strings"):
        open_session(repo, model=script(DONE), sandbox="local", allowed_tools="shell")


def test_one_task_at_a_time_and_not_after_close(repo, script, home):
    slow = {"text": "word " * 20, "delay": 0.1}
    session = open_session(repo, model=script(slow, DONE), sandbox="local")
    events = session.stream("slowly")
    next(events)   # the task is running now
    with pytest.raises(BadInput, match="a task is running"):
        session.run("meanwhile")
    with pytest.raises(BadInput, match="a task is running"):
        session.apply()
    assert isinstance(list(events)[-1], Finished)
    with pytest.raises(BadInput, match="the task is empty"):
        session.run("   ")
    session.close()
    with pytest.raises(BadInput, match="closed"):
        session.run("again")


def test_close_keeps_the_scratch_copy_while_changes_are_pending(repo, script, home):
    with open_session(repo, model=script(EDIT, DONE), sandbox="local") as pending:
        pending.run("fix add")
    with open_session(repo, model=script(EDIT, DONE), sandbox="local") as applied:
        applied.run("fix add")
        applied.discard()
    assert (workspaces_dir() / pending.id).is_dir()
    assert not (workspaces_dir() / applied.id).exists()
    review = run_ama(("review", "--show", "--cwd", str(repo)), isolated_env(home))
    assert review.code == 0 and pending.id in review.stdout and "+    return a + b" in review.stdout


def test_a_model_of_unknown_price_is_said_to_cost_an_unknown_amount(repo, home, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "gm-key")   # opening sends nothing to the provider
    with open_session(repo, model="gemini:gemini-9-ultra", sandbox="local") as session:
        notes = [n.message for n in session.notices if n.level == "warning"]
        assert any("no price is known for gemini:gemini-9-ultra" in n for n in notes)
    with open_session(repo, model="gemini:gemini-2.5-flash", sandbox="local") as session:
        assert not any("no price is known" in n.message for n in session.notices)
        session.set_model("gemini:gemini-10")
        assert session.model == "gemini:gemini-10"
        assert any("no price is known for gemini:gemini-10" in n.message for n in session.notices)


def test_resume_and_continue_take_up_an_earlier_session(repo, script, home):
    with open_session(repo, model=script(EDIT, DONE), sandbox="local") as first:
        first.run("fix add")
    for how in ({"resume": first.id}, {"continue_": True}):
        with open_session(repo, model=script(DONE), sandbox="local", **how) as again:
            assert again.id == first.id
            assert any(f"resumed session {first.id}" in n.message for n in again.notices)
            assert again.changes().paths == ("calc.py",)   # its workspace, as it was left
