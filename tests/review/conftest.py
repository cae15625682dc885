from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

LINES = "".join(f"line {i}\n" for i in range(1, 31))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def user_repo(tmp_path, monkeypatch) -> Path:
    """A git repo with a 30-line file, committed; AMA_HOME in tmp."""
    monkeypatch.setenv("AMA_HOME", str(tmp_path / "home"))
    r = tmp_path / "repo"
    r.mkdir()
    (r / "notes.txt").write_text(LINES)
    (r / "gone.txt").write_text("delete me\n")
    git(r, "init", "-q")
    git(r, "add", "-A")
    git(r, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return r


@pytest.fixture
def workspace(user_repo, tmp_path):
    from tools.workspace.scratch import Workspace
    ws = Workspace.create(user_repo, tmp_path / "ws")
    yield ws
    ws.cleanup()
