"""Attack suite, git: a repository whose config names programs must never get them run.

The hostile settings are planted both in the user's repo (a cloned repo from a stranger)
and in the scratch copy (written by a model through the sandbox). Every host-side git
operation ama performs — workspace creation, status, snapshots, change set, the git
tool's status/diff/log/show/add/commit/stash/checkout, and apply tree/commit/branch —
must leave no marker.
"""
from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.workspace.changeset import apply_branch, apply_commit, apply_to_tree
from tools.git_tool import GitTool
from tools.sandbox.local import LocalSandbox
from tools.workspace.scratch import Workspace


def plant(repo: Path, markers: Path) -> None:
    """Point every command-running git setting of `repo` at `touch MARKER`."""
    def cfg(key: str, name: str) -> None:
        subprocess.run(["git", "-C", str(repo), "config", key, f"touch {markers}/{name}; cat"], check=True)
    cfg("core.fsmonitor", "fsmonitor")
    cfg("core.pager", "pager")
    cfg("diff.external", "diff-external")
    cfg("filter.evil.clean", "filter-clean")
    cfg("filter.evil.smudge", "filter-smudge")
    cfg("filter.evil.process", "filter-process")
    cfg("diff.evil.textconv", "textconv")
    cfg("merge.evil.driver", "merge-driver")
    hooks = repo / ".git" / "evil-hooks"
    hooks.mkdir(exist_ok=True)
    for hook in ("pre-commit", "post-commit", "commit-msg", "post-checkout", "reference-transaction",
                 "pre-auto-gc", "post-index-change"):
        for d in (hooks, repo / ".git" / "hooks"):
            h = d / hook
            h.write_text(f"#!/bin/sh\ntouch {markers}/hook-{hook}\n")
            h.chmod(h.stat().st_mode | stat.S_IXUSR)
    subprocess.run(["git", "-C", str(repo), "config", "core.hooksPath", str(hooks)], check=True)
    (repo / ".gitattributes").write_text("* filter=evil diff=evil merge=evil\n")


def git(repo: Path, *args: str) -> str:
    # The test's own git calls must not trip the traps either: hooks/filters off.
    return subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
                           "-c", "filter.evil.clean=", "-c", "filter.evil.smudge=",
                           "-c", "filter.evil.process=", "-C", str(repo), *args],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def hostile(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "u@example.com")
    git(repo, "config", "user.name", "U")
    (repo / "a.txt").write_text("one\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    plant(repo, markers)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "attrs")
    (repo / "a.txt").write_text("one\ntwo\n")  # dirty, so status must look at content
    return repo, markers


def test_no_marker_from_any_host_side_git_operation(hostile, tmp_path):
    repo, markers = hostile
    ws = Workspace.create(repo, tmp_path / "ws")
    plant(ws.tree, markers)          # the model rewrote the scratch repo's config too
    ctx = ToolContext(root=ws.tree, sandbox=LocalSandbox(ws.tree))
    tool = GitTool()
    (ws.tree / "a.txt").write_text("one\ntwo\nthree\n")
    (ws.tree / "b.txt").write_text("b\n")
    for args in (["status"], ["diff"], ["diff", "HEAD"], ["log", "-p", "-1"], ["show", "HEAD"],
                 ["add", "-A"], ["commit", "-m", "model commit"], ["stash", "list"],
                 ["checkout", "-b", "topic"], ["restore", "--source=HEAD~1", "a.txt"],
                 ["stash"], ["stash", "pop"], ["branch", "-a"]):
        try:
            tool.run(tool.params(args=args), ctx)
        except ToolError:
            pass  # failing is fine; running a planted program is not
    ws.snapshot()
    cs = ws.change_set()
    assert cs.files
    apply_branch(cs, repo, "ama-branch", "msg")
    apply_to_tree(cs, repo)
    ws2 = Workspace.create(repo, tmp_path / "ws2")
    (ws2.tree / "c.txt").write_text("c\n")
    apply_commit(ws2.change_set(), repo, "commit from ama")
    assert sorted(p.name for p in markers.iterdir()) == []


def test_refused_options_that_reach_outside_the_workspace(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    ctx = ToolContext(root=repo, sandbox=LocalSandbox(repo))
    tool = GitTool()
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret\n")
    for args in (["diff", "--no-index", str(secret), "/dev/null"],
                 ["diff", f"--output={tmp_path}/out"], ["commit", "-F", str(secret)],
                 ["-c", "core.pager=touch x", "log"], ["--git-dir=/tmp", "status"],
                 ["commit", f"--file={secret}"], ["commit", "-aF", str(secret)],
                 ["fetch", "origin"], ["push"], ["config", "core.pager", "x"]):
        with pytest.raises(ToolError):
            tool.run(tool.params(args=args), ctx)
    assert not (tmp_path / "out").exists()
