from __future__ import annotations

from pathlib import Path

import pytest

from tests.ama_cli import Run, calc_repo, isolated_env, run_ama, write_script


@pytest.fixture
def ama_home(tmp_path) -> Path:
    home = tmp_path / "ama-home"
    home.mkdir()
    return home


@pytest.fixture
def ama(ama_home):
    """Run the real `ama` CLI as a subprocess, with all its state and config under tmp."""
    def run(*args: str, stdin: str | bytes | None = None, env: dict | None = None,
            timeout: float = 60) -> Run:
        full_env = isolated_env(ama_home.parent / "ama-env", env)
        full_env["AMA_HOME"] = str(ama_home)
        return run_ama(args, full_env, stdin or "", timeout)
    return run


@pytest.fixture
def repo(tmp_path) -> Path:
    return calc_repo(tmp_path / "repo", **{"README.md": "calc\n"})


@pytest.fixture
def script(tmp_path):
    """Write a script: session file from a list of turns; returns the --model value."""
    return lambda *turns, name="s.jsonl": write_script(tmp_path, turns, name)


FIX = {"text": "fixing", "tool_calls": [{"name": "edit_file", "arguments": {
    "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]}
DONE = {"text": "Fixed add."}
