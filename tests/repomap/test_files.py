"""Which files are mapped: git-aware listing, ignores, symlinks, sizes."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tools.repomap.files import list_source_files
from tools.repomap.index import scan
from tools.repomap.tags import MAX_FILE_BYTES

from tests.repomap.conftest import write_tree

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def git(root, *args):
    subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=root, check=True,
                   capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@needs_git
def test_git_repo_lists_tracked_and_untracked_but_not_ignored(tmp_path):
    root = write_tree(tmp_path / "repo", {
        "src/a.py": "def a(): pass\n",
        "src/b.ts": "export function b() {}\n",
        "notes.txt": "not source\n",
        ".gitignore": "generated/\n*.gen.py\n",
        "generated/big.py": "def gen(): pass\n",
        "src/c.gen.py": "def gen2(): pass\n",
        "node_modules/lib/index.js": "function lib() {}\n",
    })
    git(root, "init", "-q")
    git(root, "add", "src/a.py", ".gitignore")
    git(root, "commit", "-qm", "init")
    (root / "src/new.go").write_text("package src\nfunc New() {}\n")  # untracked
    files = list_source_files(root)
    assert files == ["node_modules/lib/index.js", "src/a.py", "src/b.ts", "src/new.go"]


@needs_git
def test_git_config_cannot_run_commands(tmp_path):
    root = write_tree(tmp_path / "repo", {"a.py": "def a(): pass\n"})
    git(root, "init", "-q")
    marker = tmp_path / "pwned"
    hook = tmp_path / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git(root, "config", "core.fsmonitor", str(hook))
    assert list_source_files(root) == ["a.py"]
    assert not marker.exists()


def test_plain_folder_walk_skips_hidden_and_dependency_folders(tmp_path):
    root = write_tree(tmp_path / "proj", {
        "app/main.py": "def main(): pass\n",
        "app/.hidden.py": "def h(): pass\n",
        ".venv/lib/x.py": "def x(): pass\n",
        "node_modules/dep/index.js": "function d() {}\n",
        "__pycache__/m.py": "def m(): pass\n",
        "lib/util.rb": "def util; end\n",
        "README.md": "# hi\n",
    })
    assert list_source_files(root) == ["app/main.py", "lib/util.rb"]


def test_symlinks_are_not_followed_out_of_the_workspace(tmp_path):
    outside = write_tree(tmp_path / "outside", {"secret.py": "def secret_key(): pass\n"})
    root = write_tree(tmp_path / "repo", {"a.py": "def a(): pass\n"})
    os.symlink(outside / "secret.py", root / "link.py")
    os.symlink(outside, root / "linkdir")
    index, stats = scan(root)
    assert list(index.tags) == ["a.py"]
    assert stats.files == 1


def test_huge_files_are_skipped(tmp_path):
    root = write_tree(tmp_path / "repo", {"a.py": "def a(): pass\n"})
    (root / "huge.py").write_text("x = 1\n" * (MAX_FILE_BYTES // 6 + 10))
    index, _ = scan(root)
    assert list(index.tags) == ["a.py"]


def test_empty_or_sourceless_workspace(tmp_path):
    from tools.repomap.build import build_repo_map
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text("# x\n")
    assert build_repo_map(tmp_path, cache_dir=None) == ""
