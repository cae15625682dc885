"""Fixtures for config, trust, sessions and compaction tests: the real `ama` CLI as a
subprocess with AMA_HOME, XDG_CONFIG_HOME and HOME in temp dirs; a git repo; scripts."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.ama_cli import Run, isolated_env, run_ama


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """AMA_HOME, XDG_CONFIG_HOME and HOME under tmp, for this process and the CLI."""
    h = tmp_path / "home"
    (h / "ama").mkdir(parents=True)
    (h / "xdg").mkdir()
    monkeypatch.setenv("AMA_HOME", str(h / "ama"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(h / "xdg"))
    monkeypatch.setenv("HOME", str(h))
    for k in list(os.environ):
        if k.startswith("AMA_") and k != "AMA_HOME":
            monkeypatch.delenv(k)
    return h


@pytest.fixture
def user_config(home) -> Path:
    path = home / "xdg" / "amanuensis" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


env_for = isolated_env


@pytest.fixture
def ama(home):
    def run(*args: str, env: dict | None = None, timeout: float = 60, stdin: str = "") -> Run:
        return run_ama(args, isolated_env(home, env), stdin, timeout)
    return run


@pytest.fixture
def repo(tmp_path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    (r / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    commit(r)
    return r


def commit(r: Path) -> None:
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c"]):
        subprocess.run(["git", "-C", str(r), *args], check=True, capture_output=True)


@pytest.fixture
def script(tmp_path):
    def make(*turns: dict, name: str = "s.jsonl") -> str:
        path = tmp_path / name
        path.write_text("".join(json.dumps(t) + "\n" for t in turns))
        return f"script:{path}"
    return make


DONE = {"text": "Done."}
