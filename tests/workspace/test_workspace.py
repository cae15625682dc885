"""The scratch workspace and the change set, on real git repos in temp dirs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.workspace.changeset import ApplyConflict, apply_branch, apply_commit, apply_to_tree
from tools.workspace.scratch import Workspace

from .conftest import git


def tree_state(root: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            p = Path(dirpath) / f
            out[p.relative_to(root).as_posix()] = (p.read_bytes(), p.stat().st_mode & 0o777)
    return out


@pytest.fixture
def ws(user_repo, tmp_path):
    w = Workspace.create(user_repo, tmp_path / "ws")
    yield w
    w.cleanup()


def test_scratch_carries_uncommitted_and_untracked_but_not_ignored(ws, user_repo):
    t = ws.tree
    assert (t / "a.py").read_text() == "print(1)\nprint(2)\n"
    assert (t / "new.txt").read_text() == "untracked\n"
    assert not (t / "debug.log").exists()
    assert not (t / "d" / "c.txt").exists()
    assert os.access(t / "run.sh", os.X_OK)
    assert ws.change_set().empty


def test_user_tree_and_git_dir_untouched_by_work_in_scratch(ws, user_repo):
    before_tree = tree_state(user_repo)
    before_git = tree_state(user_repo / ".git")
    (ws.tree / "a.py").write_text("changed\n")
    (ws.tree / "added.txt").write_text("new\n")
    git(ws.tree, "add", "-A")
    git(ws.tree, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "in scratch")
    ws.snapshot()
    ws.change_set()
    assert tree_state(user_repo) == before_tree
    assert tree_state(user_repo / ".git") == before_git


def test_change_set_is_exact_for_adds_deletes_renames_binary_and_modes(ws):
    t = ws.tree
    (t / "a.py").write_text("print(3)\n")
    os.rename(t / "b.txt", t / "b2.txt")
    (t / "new.txt").unlink()
    (t / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (t / "run.sh").chmod(0o644)
    (t / "sub").mkdir()
    (t / "sub" / "n.txt").write_text("n\n")
    (t / "__pycache__").mkdir()
    (t / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0junk")
    cs = ws.change_set()
    files = {f.path: f for f in cs.files}
    assert set(files) == {"a.py", "b2.txt", "new.txt", "blob.bin", "run.sh", "sub/n.txt"}
    assert files["a.py"].status == "modified" and (files["a.py"].additions, files["a.py"].deletions) == (1, 2)
    assert files["b2.txt"].status == "renamed" and files["b2.txt"].old_path == "b.txt"
    assert files["new.txt"].status == "deleted"
    assert files["blob.bin"].status == "added" and files["blob.bin"].binary
    assert (files["run.sh"].old_mode, files["run.sh"].new_mode) == ("100755", "100644")
    assert "GIT binary patch" in cs.patch and "rename from b.txt" in cs.patch


def test_apply_to_tree_reproduces_the_scratch_state(ws, user_repo):
    t = ws.tree
    (t / "a.py").write_text("print(3)\n")
    os.rename(t / "b.txt", t / "b2.txt")
    (t / "blob.bin").write_bytes(b"\x00\x01\x02")
    (t / "run.sh").chmod(0o644)
    (t / "link").symlink_to("a.py")
    cs = ws.change_set()
    apply_to_tree(cs, user_repo)
    assert (user_repo / "a.py").read_text() == "print(3)\n"
    assert not (user_repo / "b.txt").exists() and (user_repo / "b2.txt").read_text() == "x\ny\n"
    assert (user_repo / "blob.bin").read_bytes() == b"\x00\x01\x02"
    assert not os.access(user_repo / "run.sh", os.X_OK)
    assert os.readlink(user_repo / "link") == "a.py"
    assert (user_repo / "debug.log").read_text() == "ignored\n"  # untouched


def test_apply_refuses_when_the_user_edited_the_same_file_and_writes_nothing(ws, user_repo):
    (ws.tree / "a.py").write_text("from the model\n")
    (ws.tree / "other.txt").write_text("also from the model\n")
    cs = ws.change_set()
    (user_repo / "a.py").write_text("user kept editing\n")
    with pytest.raises(ApplyConflict) as exc:
        apply_to_tree(cs, user_repo)
    assert exc.value.paths == ["a.py"]
    assert (user_repo / "a.py").read_text() == "user kept editing\n"
    assert not (user_repo / "other.txt").exists()


def test_apply_commit_commits_exactly_the_change_set(ws, user_repo):
    (ws.tree / "a.py").write_text("print(3)\n")
    (ws.tree / "z.txt").write_text("z\n")
    sha = apply_commit(ws.change_set(), user_repo, "fix a")
    assert git(user_repo, "log", "-1", "--format=%H %s").strip() == f"{sha} fix a"
    assert sorted(git(user_repo, "show", "--name-only", "--format=", sha).split()) == ["a.py", "z.txt"]
    # the user's other uncommitted work is still uncommitted
    assert "new.txt" in git(user_repo, "status", "--porcelain")


def test_apply_branch_makes_one_commit_and_leaves_the_tree_alone(ws, user_repo):
    before = tree_state(user_repo)
    head = git(user_repo, "rev-parse", "HEAD").strip()
    (ws.tree / "a.py").write_text("print(3)\n")
    (ws.tree / "b.txt").unlink()
    sha = apply_branch(ws.change_set(), user_repo, "ama/fix", "fix a")
    assert git(user_repo, "rev-parse", "ama/fix").strip() == sha
    assert git(user_repo, "rev-list", "--count", f"{head}..ama/fix").strip() == "1"
    assert git(user_repo, "show", "ama/fix:a.py") == "print(3)\n"
    assert "b.txt" not in git(user_repo, "ls-tree", "-r", "--name-only", "ama/fix")
    assert tree_state(user_repo) == before
    assert git(user_repo, "rev-parse", "HEAD").strip() == head


def test_restore_brings_back_files_and_removes_files_created_since(ws):
    first = ws.snapshot()
    (ws.tree / "a.py").write_text("changed\n")
    (ws.tree / "made_by_shell.txt").write_text("x\n")
    ws.snapshot()
    ws.restore(first)
    assert (ws.tree / "a.py").read_text() == "print(1)\nprint(2)\n"
    assert not (ws.tree / "made_by_shell.txt").exists()


def test_non_git_folder_works_with_a_shadow_repo(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello\n")
    w = Workspace.create(folder, tmp_path / "ws")
    assert not w.is_git and not (w.tree / ".git").exists()
    (w.tree / "notes.txt").write_text("hello world\n")
    (w.tree / "more.txt").write_text("more\n")
    cs = w.change_set()
    assert {f.path: f.status for f in cs.files} == {"notes.txt": "modified", "more.txt": "added"}
    apply_to_tree(cs, folder)
    assert (folder / "more.txt").read_text() == "more\n"
    assert not (folder / ".git").exists()
    w.cleanup()
    assert not (tmp_path / "ws").exists()


def test_reopen_finds_base_and_checkpoints(ws, tmp_path):
    (ws.tree / "a.py").write_text("v2\n")
    ws.snapshot()
    again = Workspace.open(ws.user_root, ws.dir)
    assert again.base == ws.base and again.checkpoints == ws.checkpoints
    assert [f.path for f in again.change_set(fresh=False).files] == ["a.py"]


def test_empty_repo_without_commits(tmp_path):
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "first.txt").write_text("1\n")
    w = Workspace.create(repo, tmp_path / "ws")
    assert (w.tree / "first.txt").read_text() == "1\n"
    (w.tree / "second.txt").write_text("2\n")
    assert [f.path for f in w.change_set().files] == ["second.txt"]
