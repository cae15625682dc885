"""The session API in-process: open_session → run_session → a frozen RunResult, and
every exit code derived from it (script: model, local sandbox, real git repos)."""
from __future__ import annotations

import dataclasses
import json
import threading

import jsonschema
import pytest

from agent.core.errors import BadInput, RuntimeFailure, SandboxError
from agent.core.loop import Limits
from agent.headless.output import deliver
from agent.schemas import load_schema
from agent.session import Mode, RunRequest, RunResult, SessionOptions, open_session, run_session
from agent.session.result import not_started
from tests.ama_cli import commit_all, write_script

EDIT = {"text": "fixing", "tool_calls": [{"name": "edit_file", "arguments": {
    "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]}
SHELL = {"text": "trying", "tool_calls": [{"name": "shell", "arguments": {"command": "echo hi"}}]}
DONE = {"text": "Fixed add."}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("AMA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMA_SANDBOX", raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    commit_all(root)
    return root


@pytest.fixture
def session_for(repo, tmp_path):
    """session_for(*turns, **options) -> an open Session on `repo`, closed after the test."""
    opened = []

    def make(*turns, events=None, cancel=None, **kw):
        model = write_script(tmp_path, turns, name=f"s{len(opened)}.jsonl")
        options = SessionOptions(model=model, cwd=repo, sandbox="local", **kw)
        session = open_session(options, events.append if events is not None else lambda e: None,
                               cancel=cancel)
        opened.append(session)
        return session
    yield make
    for s in opened:
        s.close()


def test_success_with_changes(session_for):
    events = []
    session = session_for(EDIT, DONE, events=events)
    result = run_session(session, "fix add")
    assert (result.subtype, result.exit_code, result.is_error) == ("success", 0, False)
    assert result.result == "Fixed add." and result.num_turns == 2
    assert [f["path"] for f in result.changes["files"]] == ["calc.py"]
    assert "+    return a + b" in result.changes["patch"]
    assert result.change_set is not None and not result.change_set.empty
    assert "change_set" in [e.type for e in events] and "checkpoint" in [e.type for e in events]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.subtype = "error_max_turns"   # type: ignore[misc]


def test_the_result_object_matches_its_schema(session_for):
    record = run_session(session_for(EDIT, DONE), "fix add").to_dict()
    jsonschema.validate(record, load_schema("result"))
    assert json.loads(json.dumps(record)) == record


def test_3_turn_limit(session_for):
    result = run_session(session_for(SHELL, SHELL, DONE, limits=Limits(max_turns=1)), "go")
    assert (result.subtype, result.exit_code) == ("error_max_turns", 3)
    assert "--max-turns 1" in result.result


def test_3_cost_limit(session_for):
    costly = {**SHELL, "usage": {"input_tokens": 10, "output_tokens": 10, "cost_usd": 2.0}}
    result = run_session(session_for(costly, DONE, limits=Limits(max_cost_usd=1.0)), "go")
    assert (result.subtype, result.exit_code) == ("error_max_cost", 3)
    assert result.usage.cost_usd == 2.0


def test_4_denied_and_nothing_changed(session_for):
    result = run_session(session_for(SHELL, DONE, deny=("shell",)), "go")
    assert (result.subtype, result.exit_code) == ("error_permission_denied", 4)
    assert [d["tool_name"] for d in result.denials] == ["shell"]


def test_5_verification_never_passes(session_for):
    result = run_session(session_for(EDIT, DONE, DONE, verify="exit 3", max_verify=2), "fix")
    assert (result.subtype, result.exit_code) == ("error_verification_failed", 5)
    assert result.verification["attempts"] == 2 and not result.verification["passed"]
    assert result.changes["files"]   # the change set is still reported


def test_130_interrupted(session_for):
    cancel = threading.Event()
    session = session_for(SHELL, DONE, cancel=cancel)
    session.interrupt()
    result = run_session(session, "go")
    assert (result.subtype, result.exit_code) == ("error_interrupted", 130)
    assert session.agent.messages[-1].role == "assistant"   # the conversation is closed


def test_1_applying_fails_when_the_user_tree_moved(session_for, repo):
    session = session_for(EDIT, DONE)
    result = run_session(session, "fix add")
    (repo / "calc.py").write_text("def add(a, b):\n    return b - a\n")   # edited meanwhile
    applied = deliver(result, RunRequest(task="fix add", apply="tree"), repo)
    assert (applied.subtype, applied.exit_code) == ("error_during_execution", 1)
    assert isinstance(applied.error, RuntimeFailure) and applied.changes == result.changes
    assert (repo / "calc.py").read_text().endswith("b - a\n")   # nothing half-applied


def test_1_and_2_for_runs_that_could_not_start(repo):
    assert not_started("s", "m", SandboxError("no docker")).exit_code == 1
    bad = not_started("s", "m", BadInput("--cwd x: no such directory"))
    assert (bad.subtype, bad.exit_code, bad.to_dict()["is_error"]) == ("error_bad_input", 2, True)


@pytest.mark.parametrize("kw, message", [
    ({"sandbox": "vm"}, "--sandbox 'vm'"),
    ({"permission_mode": "yolo"}, "--permission-mode 'yolo'"),
    ({"limits": Limits(max_turns=0)}, "--max-turns"),
    ({"max_verify": 0}, "--max-verify"),
    ({"allow": ("shell(",)}, "shell("),
])
def test_session_options_validate_themselves(repo, kw, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(")):
        SessionOptions(model="script:x", cwd=repo, **kw)


def test_session_options_refuse_a_missing_directory(tmp_path):
    with pytest.raises(BadInput, match="no such directory") as e:
        SessionOptions(model="script:x", cwd=tmp_path / "nowhere")
    assert e.value.exit_code == 2


@pytest.mark.parametrize("kw, message", [
    ({"output_format": "yaml"}, "--output-format"), ({"apply": "branch:"}, "--apply"),
    ({"task": "  "}, "the task is empty"), ({"attempts": 0}, "--attempts"),
    ({"select": "best"}, "--select"), ({"author": "nobody"}, "--author"),
])
def test_run_requests_validate_themselves(kw, message):
    with pytest.raises(BadInput, match=message):
        RunRequest(**{"task": "x", **kw})


def test_named_operations(session_for, repo):
    session = session_for(EDIT, DONE, {"text": "again"})
    run_session(session, "fix add")
    assert (session.workspace.tree / "calc.py").read_text().endswith("a + b\n")
    assert session.undo() == 0                                    # back at the start
    assert (session.workspace.tree / "calc.py").read_text().endswith("a - b\n")
    assert session.undo() is None
    session.set_mode(Mode.PLAN)
    assert session.agent.permissions.mode == "plan"
    session.set_mode(Mode.REVIEW)
    assert session.agent.permissions.mode == "default"
    session.clear()
    assert [m.role for m in session.agent.messages] == ["system"]
    with pytest.raises(ValueError):
        session.add_rule("maybe", "shell")
    session.add_rule("deny", "shell(rm*)")
    assert [str(r) for r in session.agent.permissions.deny] == ["shell(rm*)"]
