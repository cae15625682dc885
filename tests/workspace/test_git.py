"""The hardened host git (tools/workspace/git.py), on real repos in temp dirs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools.workspace.git import GitError, check_new_branch, host_git, repo_top, write_blobs

from .conftest import git


def test_repo_top_from_a_subdirectory_and_outside_any_repo(user_repo, tmp_path):
    assert repo_top(user_repo / "d") == user_repo
    plain = tmp_path / "plain"
    plain.mkdir()
    assert repo_top(plain) is None


def test_our_own_git_variables_do_not_steer_it(user_repo, tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.pager'='false'")
    assert repo_top(user_repo) == user_repo
    assert host_git(user_repo).rev_parse("--show-toplevel") == str(user_repo)


def test_check_new_branch(user_repo):
    check_new_branch(user_repo, "ama/new")
    git(user_repo, "branch", "taken")
    for name, why in (("taken", "already exists"), ("a..b", "not a valid branch name"),
                      ("@{-1}", "not a valid branch name"), ("-x", "not a valid branch name")):
        with pytest.raises(ValueError, match=why):
            check_new_branch(user_repo, name)


def test_write_blobs_stores_bytes_exactly(user_repo):
    g = host_git(user_repo)
    blobs = [b"line\n", b"", bytes(range(256)), b"no newline"]
    shas = write_blobs(g, blobs)
    assert len(shas) == len(blobs)
    for sha, data in zip(shas, blobs):
        assert g.cat_file("blob", sha, stdout_as_string=False,
                          strip_newline_in_stdout=False) == data
    assert write_blobs(g, []) == []


def test_a_failure_names_the_command_not_the_overrides(user_repo):
    with pytest.raises(GitError) as exc:
        host_git(user_repo).rev_parse("--verify", "no-such-ref")
    assert str(exc.value).startswith("git rev-parse --verify no-such-ref failed (")
    assert "core.fsmonitor" not in str(exc.value)


def test_never_runs_in_another_directory(tmp_path):
    with pytest.raises(NotADirectoryError):
        host_git(tmp_path / "missing").status()


def test_only_git_command_lines_run(user_repo):
    with pytest.raises(ValueError):
        host_git(user_repo).execute(["sh", "-c", "true"])


def test_importing_the_workspace_does_not_import_gitpython():
    code = ("import sys, tools.workspace.scratch, tools.workspace.review; "
            "assert 'git' not in sys.modules, 'GitPython imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_ama_help_does_not_import_gitpython():
    code = ("import sys, agent.cli.main\nsys.argv = ['ama', '--help']\ntry:\n    agent.cli.main.main()\n"
            "except SystemExit:\n    pass\nassert 'git' not in sys.modules, 'GitPython imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                   cwd=Path(__file__).parents[2])
