from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """A git repo with a commit, then uncommitted edits, an untracked file, an ignored
    file and a deleted file — the state a user's tree is usually in."""
    repo = tmp_path / "user"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "u@example.com")
    git(repo, "config", "user.name", "U")
    (repo / "a.py").write_text("print(1)\n")
    (repo / "b.txt").write_text("x\ny\n")
    (repo / "d").mkdir()
    (repo / "d" / "c.txt").write_text("z\n")
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "run.sh").chmod(0o755)
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    (repo / "a.py").write_text("print(1)\nprint(2)\n")     # uncommitted edit
    (repo / "new.txt").write_text("untracked\n")           # untracked
    (repo / "debug.log").write_text("ignored\n")           # ignored
    (repo / "d" / "c.txt").unlink()                        # deleted
    return repo
