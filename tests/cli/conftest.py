from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.ama_cli import Run, isolated_env, run_ama


@pytest.fixture
def ama_home(tmp_path) -> Path:
    home = tmp_path / "ama-home"
    home.mkdir()
    return home


@pytest.fixture
def ama(ama_home):
    """Run the real `ama` CLI as a subprocess, with all its state and config under tmp."""
    def run(*args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 60) -> Run:
        full_env = isolated_env(ama_home.parent / "ama-env", env)
        full_env["AMA_HOME"] = str(ama_home)
        return run_ama(args, full_env, stdin or "", timeout)
    return run


@pytest.fixture
def repo(tmp_path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    (r / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (r / "README.md").write_text("calc\n")
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(r), *args], check=True)
    return r


@pytest.fixture
def script(tmp_path):
    """Write a script: session file from a list of turns; returns the --model value."""
    def make(*turns: dict, name: str = "s.jsonl") -> str:
        path = tmp_path / name
        path.write_text("".join(json.dumps(t) + "\n" for t in turns))
        return f"script:{path}"
    return make


FIX = {"text": "fixing", "tool_calls": [{"name": "edit_file", "arguments": {
    "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]}
DONE = {"text": "Fixed add."}
