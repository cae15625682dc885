"""The task file and the flags of `ama batch`: both forms read, bad input refused before
any task runs, with a message that says what to fix."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.batch.options import BatchOptions
from agent.batch.tasks import load_tasks, select
from agent.core.errors import BadInput


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_both_forms_are_read_from_json_and_jsonl(tmp_path):
    swe = {"instance_id": "o__r-1", "repo": "o/r", "base_commit": "abc", "problem_statement": "fix",
           "FAIL_TO_PASS": '["t.py::a", "t.py::b"]', "PASS_TO_PASS": ["t.py::c"], "test_patch": "diff"}
    ama = {"id": "mine", "cwd": "sub", "task": "do it", "verify": "make test"}
    for name, text in (("a.json", json.dumps([swe, ama])),
                       ("a.jsonl", json.dumps(swe) + "\n\n" + json.dumps(ama) + "\n")):
        first, second = load_tasks(write(tmp_path / name, text))
        assert (first.id, first.repo, first.base_commit, first.text) == ("o__r-1", "o/r", "abc", "fix")
        assert first.fail_to_pass == ("t.py::a", "t.py::b") and first.pass_to_pass == ("t.py::c",)
        assert first.test_patch == "diff" and first.verify is None
        assert (second.id, second.repo, second.verify) == ("mine", None, "make test")
        assert second.cwd == str(tmp_path / "sub")   # relative to the task file


@pytest.mark.parametrize("text, says", [
    ('{"id": "a", "repo": "o/r", "task": "x"}\n{"id": "a", "repo": "o/r", "task": "y"}\n',
     "also the id of the task at"),
    ('{"id": "a", "repo": "o/r", "task": "x"}\n{"id": \n', ":2: not valid JSON"),
    ('{"id": "../a", "repo": "o/r", "task": "x"}\n', "letters, digits"),
    ('{"id": "a", "task": "x"}\n', 'exactly one of "repo"'),
    ('{"id": "a", "repo": "o/r"}\n', '"problem_statement"'),
    ('{"instance_id": "a", "repo": "o/r", "problem_statement": "x", "FAIL_TO_PASS": "[1]"}\n',
     "FAIL_TO_PASS: must be a list of test ids"),
    ("", "holds no tasks"),
])
def test_a_bad_task_file_is_refused_naming_the_record(tmp_path, text, says):
    with pytest.raises(BadInput) as e:
        load_tasks(write(tmp_path / "t.jsonl", text))
    assert says in e.value.message


def test_filter_shuffle_and_slice_pick_the_tasks(tmp_path):
    records = [{"id": f"t-{i}", "repo": "o/r", "task": "x"} for i in range(10)]
    tasks = load_tasks(write(tmp_path / "t.json", json.dumps(records)))
    assert [t.id for t in select(tasks, slice_="2:4")] == ["t-2", "t-3"]
    assert [t.id for t in select(tasks, slice_="3")] == ["t-0", "t-1", "t-2"]
    assert [t.id for t in select(tasks, pattern=r"-[13579]$", slice_="1:")] == ["t-3", "t-5", "t-7", "t-9"]
    shuffled = [t.id for t in select(tasks, shuffle=True, seed=7)]
    assert shuffled == [t.id for t in select(tasks, shuffle=True, seed=7)] != [t.id for t in tasks]
    assert sorted(shuffled) == sorted(t.id for t in tasks)
    for bad, says in (({"slice_": "a:b"}, "--slice"), ({"pattern": "("}, "--filter")):
        with pytest.raises(BadInput) as e:
            select(tasks, **bad)
        assert says in e.value.message


@pytest.mark.parametrize("flags, says", [
    ({"sandbox": "local"}, "--trusted-tasks"),
    ({"network": True}, "never gets network access"),
    ({"permission_mode": "bypass"}, "--permission-mode bypass"),
    ({"sandbox": "vm"}, "choose one of docker, bwrap, local"),
    ({"allowed_tools": ("shell(",)}, "shell("),
    ({"test_cmd": "pytest"}, "{tests}"),
    ({"workers": 0}, "--workers"),
    ({"ray_address": "h:1"}, "--executor ray"),
])
def test_flags_that_would_fail_every_task_are_refused_once(tmp_path, flags, says):
    with pytest.raises(BadInput) as e:
        BatchOptions(tasks_file=tmp_path / "t.jsonl", out_dir=tmp_path / "o", **flags)
    assert says in e.value.message


def test_each_task_settles_with_its_own_model_image_and_verification(tmp_path, monkeypatch):
    from agent.batch.runner import settle_task
    from agent.batch.tasks import Task
    for key in ("AMA_MODEL", "AMA_SANDBOX"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AMA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    options = BatchOptions(tasks_file=tmp_path / "t.jsonl", out_dir=tmp_path / "o",
                           model="script:/s/{instance_id}.jsonl", sandbox="docker",
                           sandbox_image="sweb.eval.{instance_id}", max_turns=7,
                           test_cmd="pytest -q {tests}", attempts=3)
    swe = Task(id="o__r-1", text="fix it", repo="o/r", fail_to_pass=("t.py::a b", "t.py::c"))
    session, request = settle_task(swe, options, tmp_path)
    assert (session.model, session.sandbox_image) == ("script:/s/o__r-1.jsonl", "sweb.eval.o__r-1")
    assert session.verify == "pytest -q 't.py::a b' t.py::c"
    assert session.limits.max_turns == 7 and request.attempts == 3
    # untrusted: wrapped, and the files that configure ama or CI denied to the edit tools
    assert "<untrusted-task>\nfix it\n</untrusted-task>" in request.task
    assert "write_file(.github/workflows/*)" in session.deny and session.network is False
    own = Task(id="mine", text="do it", cwd=str(tmp_path), verify="make check")
    trusted = BatchOptions(tasks_file=tmp_path / "t.jsonl", out_dir=tmp_path / "o",
                           sandbox="local", trusted_tasks=True, verify="check {instance_id}")
    session, request = settle_task(own, trusted, tmp_path)
    assert (session.verify, request.task, request.untrusted) == ("make check", "do it", False)
    session, _ = settle_task(Task(id="other", text="x", cwd=str(tmp_path)), trusted, tmp_path)
    assert session.verify == "check other"
