"""Fixtures for config, trust, sessions and compaction tests: the real `ama` CLI as a
subprocess with AMA_HOME, XDG_CONFIG_HOME and HOME in temp dirs; a git repo; scripts."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.ama_cli import Run, calc_repo, isolated_env, run_ama, write_script


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
    return calc_repo(tmp_path / "repo")


@pytest.fixture
def script(tmp_path):
    return lambda *turns, name="s.jsonl": write_script(tmp_path, turns, name)


DONE = {"text": "Done."}
