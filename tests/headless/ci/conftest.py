"""Fixtures for the CI features: the real `ama` CLI, a git repo, scripts, the schema."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.headless.conftest import ama, ama_home, repo, script  # noqa: F401  (shared fixtures)
from tests.sandbox.sandbox_fixtures import require

FIX = {"text": "fixing", "tool_calls": [{"name": "edit_file", "arguments": {
    "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]}
DONE = {"text": "Fixed add."}


def edit(new: str) -> dict:
    """A turn that replaces `a - b` in calc.py with `new`."""
    return {"text": "editing", "tool_calls": [{"name": "edit_file", "arguments": {
        "path": "calc.py", "old_string": "a - b", "new_string": new}}]}


def shell(command: str) -> dict:
    return {"tool_calls": [{"name": "shell", "arguments": {"command": command}}]}


@pytest.fixture
def scripts(tmp_path):
    """scripts([turns...], [turns...], ...) -> a `script:a.jsonl,b.jsonl,...` model, one
    script per attempt."""
    def make(*per_attempt: list[dict]) -> str:
        paths = []
        for i, turns in enumerate(per_attempt):
            path = tmp_path / f"attempt{i}.jsonl"
            path.write_text("".join(json.dumps(t) + "\n" for t in turns))
            paths.append(str(path))
        return "script:" + ",".join(paths)
    return make


@pytest.fixture(scope="session")
def result_schema() -> dict:
    from agent.schemas import load_schema
    return load_schema("result")


@pytest.fixture
def valid(result_schema):
    """valid(result) raises (with the path of the problem) unless it fits the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(result_schema)

    def check(result: dict) -> dict:
        errors = sorted(validator.iter_errors(result), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
        return result
    return check


@pytest.fixture
def docker_sandbox():
    """Skip (fail in CI) unless docker and the sandbox image are here."""
    require("docker")
    return "docker"


def containers_of(session_prefix: str) -> list:
    """Sandbox containers (any state) whose session label starts with `session_prefix`."""
    import docker

    from tools.sandbox.docker import LABEL, LABEL_SESSION

    client = docker.from_env()
    return [c for c in client.containers.list(all=True, filters={"label": LABEL},
                                              ignore_removed=True)
            if c.labels.get(LABEL_SESSION, "").startswith(session_prefix)]


def workspaces(home: Path) -> list[Path]:
    d = home / "workspaces"
    return sorted(d.iterdir()) if d.is_dir() else []
