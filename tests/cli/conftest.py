from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict:
        return json.loads(self.stdout.strip().splitlines()[-1])


@pytest.fixture
def ama_home(tmp_path) -> Path:
    home = tmp_path / "ama-home"
    home.mkdir()
    return home


@pytest.fixture
def ama(ama_home):
    """Run the real `ama` CLI as a subprocess, with AMA_HOME in a temp dir."""
    def run(*args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 60) -> Run:
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("ANTHROPIC_", "OPENAI_", "AMA_"))}
        full_env.update(AMA_HOME=str(ama_home), **(env or {}))
        proc = subprocess.run([sys.executable, "-m", "agent", *args], input=stdin or "",
                              capture_output=True, text=True, env=full_env, timeout=timeout)
        return Run(proc.returncode, proc.stdout, proc.stderr)
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
