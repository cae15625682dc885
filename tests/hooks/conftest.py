"""Fixtures for the hook tests: AMA_HOME, XDG_CONFIG_HOME and HOME under tmp; a git repo;
`hooks(...)` writes `[[hooks.EVENT]]` tables running tests/hooks/scripted_hook.py, whose
every stdin lands in a record file that `records()` reads back, each checked against
tests/hooks/hook_input.schema.json."""
from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.ama_cli import Run, calc_repo, isolated_env, run_ama, write_script

HERE = Path(__file__).parent
HOOK = HERE / "scripted_hook.py"
SCHEMA = jsonschema.Draft202012Validator(json.loads((HERE / "hook_input.schema.json").read_text()))


def hook_command(record: Path, behaviour: str) -> str:
    return " ".join(shlex.quote(str(p)) for p in (sys.executable, HOOK, record, behaviour))


def toml_hooks(record: Path, *hooks: tuple) -> str:
    """`[[hooks.EVENT]]` tables; each hook is (event, behaviour[, {field: value}])."""
    out = []
    for event, behaviour, *extra in hooks:
        out.append(f"[[hooks.{event}]]\ncommand = {json.dumps(hook_command(record, behaviour))}")
        out += [f"{k} = {json.dumps(v)}" for k, v in (extra[0] if extra else {}).items()]
    return "\n".join(out) + "\n"


def read_records(record: Path) -> list[dict]:
    """What the hooks read, in order; every stdin valid against the schema."""
    if not record.exists():
        return []
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    for row in rows:
        errors = [e.message for e in SCHEMA.iter_errors(row["input"])]
        assert not errors, f"{row['input']['hook_event_name']} stdin: {errors}"
    return rows


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    (h / "ama").mkdir(parents=True)
    (h / "xdg" / "amanuensis").mkdir(parents=True)
    monkeypatch.setenv("AMA_HOME", str(h / "ama"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(h / "xdg"))
    monkeypatch.setenv("HOME", str(h))
    for k in list(os.environ):
        if k.startswith("AMA_") and k != "AMA_HOME":
            monkeypatch.delenv(k)
    return h


@pytest.fixture
def record(tmp_path) -> Path:
    return tmp_path / "hooks-record.jsonl"


@pytest.fixture
def user_hooks(home, record):
    """user_hooks(*hooks, extra="") writes them (and `extra` TOML) to the user config."""
    def write(*hooks: tuple, extra: str = "") -> Path:
        path = home / "xdg" / "amanuensis" / "config.toml"
        path.write_text(extra + toml_hooks(record, *hooks))
        return path
    return write


@pytest.fixture
def records(record):
    return lambda: read_records(record)


@pytest.fixture
def ama(home):
    def run(*args: str, env: dict | None = None, timeout: float = 60, stdin: str = "") -> Run:
        return run_ama(args, isolated_env(home, env), stdin, timeout)
    return run


@pytest.fixture
def repo(tmp_path) -> Path:
    return calc_repo(tmp_path / "repo")


@pytest.fixture
def script(tmp_path):
    return lambda *turns, name="s.jsonl": write_script(tmp_path, turns, name)


def shell(command: str, text: str = "running") -> dict:
    return {"text": text, "tool_calls": [{"name": "shell", "arguments": {"command": command}}]}


def events(run: Run) -> list[dict]:
    """The ama-events lines of a run, the result object last."""
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
