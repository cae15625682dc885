"""The scratch workspace: a private copy of the user's repo that the session works on.

Layout under `base_dir` (one folder a session):

    tree/        the scratch copy (mounted at /workspace in the sandbox). For a git
                 repo: a `--shared` clone of the user's repo at HEAD, overlaid with the
                 user's uncommitted and untracked (not ignored) files. For a plain
                 folder: a copy.
    shadow.git/  a private git dir whose work tree is `tree/`; it snapshots the tree
                 (base = the user's tree at start; a checkpoint after each mutating
                 tool call) on refs/ama/*. The model never sees it.

The user's working tree and `.git` are only read here (with hardened git, `git.py`);
writing to them is `changeset.apply_*`'s job, and only when the user asks.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tools.workspace.changeset import ChangeSet, diff_trees
from tools.workspace.git import host_git, repo_top

# Never part of a change set, whatever the repo's .gitignore says.
DEFAULT_EXCLUDES = ("__pycache__/", "*.py[co]", ".pytest_cache/", ".mypy_cache/",
                    ".ruff_cache/", ".ama-scratch/")


@dataclass
class Workspace:
    user_root: Path
    dir: Path
    is_git: bool
    base: str = ""                     # the user's tree as the session last saw it
    start: str = ""                    # the scratch tree as the session began (undo's floor)
    checkpoints: list[str] = field(default_factory=list)
    _tracked_ignored: list[bytes] | None = field(default=None, repr=False)

    @property
    def tree(self) -> Path:
        return self.dir / "tree"

    @property
    def shadow(self) -> Path:
        return self.dir / "shadow.git"

    @property
    def readonly_mounts(self) -> list[Path]:
        """Host dirs the sandbox must see read-only (the clone's borrowed objects)."""
        alt = self.tree / ".git" / "objects" / "info" / "alternates"
        if not alt.is_file():
            return []
        return [Path(line.strip()) for line in alt.read_text().splitlines() if line.strip()]

    # ---- creation -----------------------------------------------------------------

    @classmethod
    def create(cls, cwd: Path, base_dir: Path) -> "Workspace":
        """Copy the user's tree at `cwd` (its git top level, if any) into `base_dir`."""
        cwd = Path(cwd).resolve()
        top = repo_top(cwd)
        ws = cls(user_root=top or cwd, dir=Path(base_dir), is_git=top is not None)
        ws.dir.mkdir(parents=True, exist_ok=True)
        if ws.is_git:
            ws._clone_user_repo()
        else:
            shutil.copytree(ws.user_root, ws.tree, symlinks=True,
                            ignore=shutil.ignore_patterns(".git"))
        ws._init_shadow()
        ws.base = ws.start = ws.snapshot("base")
        (ws.shadow / "refs" / "ama" / "start").write_text(ws.start + "\n")
        return ws

    @classmethod
    def open(cls, user_root: Path, base_dir: Path) -> "Workspace":
        """Reopen an existing workspace (for review or resume)."""
        ws = cls(user_root=Path(user_root), dir=Path(base_dir),
                 is_git=(Path(base_dir) / "tree" / ".git").exists())
        refs = host_git(ws.dir, git_dir=ws.shadow, scan_drivers=False).for_each_ref(
            "--format=%(refname) %(objectname)", "refs/ama/").split("\n")
        by_name = dict(line.split(" ", 1) for line in refs if line)
        ws.base = by_name.get("refs/ama/base", "")
        ws.start = by_name.get("refs/ama/start", ws.base)
        n = 1
        while f"refs/ama/checkpoints/{n}" in by_name:
            ws.checkpoints.append(by_name[f"refs/ama/checkpoints/{n}"])
            n += 1
        return ws

    def _clone_user_repo(self) -> None:
        user = self.user_root
        # One status call gives the branch, whether HEAD exists, and every uncommitted path.
        status = host_git(user).status("--porcelain=v2", "--branch", "-z", "--untracked-files=all",
                                       "--no-renames", "--ignore-submodules=all",
                                       stdout_as_string=False)
        entries = status.split(b"\0")
        head = next((e.split(b" ")[2].decode() for e in entries if e.startswith(b"# branch.oid ")), "")
        branch = next((e.split(b" ", 2)[2].decode() for e in entries
                       if e.startswith(b"# branch.head ")), "(detached)")
        if head and head != "(initial)":
            host_git(self.dir).clone("--quiet", "--shared", "--no-checkout", "--", str(user),
                                     str(self.tree))
            name = branch if branch != "(detached)" else "ama-detached"
            host_git(self.tree).checkout("--quiet", "-B", name, head)
        else:  # an empty repo: nothing to clone
            self.tree.mkdir()
            host_git(self.tree).init("--quiet")
        # Overlay what the user has not committed: modified, added, untracked; drop deleted.
        for entry in entries:
            rel = _status_v2_path(entry)
            if rel is None:
                continue
            src, dst = user / rel, self.tree / rel
            if os.path.lexists(src):
                _copy_entry(src, dst)
            elif os.path.lexists(dst):
                _remove_entry(dst)

    def _init_shadow(self) -> None:
        host_git(self.dir, scan_drivers=False).init("--quiet", "--bare", "--", str(self.shadow))
        with open(self.shadow / "config", "a") as cfg:  # a work tree is passed on each call
            cfg.write("[core]\n\tbare = false\n")
        excludes = list(DEFAULT_EXCLUDES)
        user_exclude = self.user_root / ".git" / "info" / "exclude"
        if self.is_git and user_exclude.is_file():
            excludes.append(user_exclude.read_text(errors="replace"))
        (self.shadow / "info").mkdir(exist_ok=True)
        (self.shadow / "info" / "exclude").write_text("\n".join(excludes) + "\n")

    # ---- snapshots ----------------------------------------------------------------

    def _shadow_git(self, index: str = "snap-index"):
        """Hardened git on the shadow repo, its work tree the scratch tree; `index` names
        its index file (each job keeps its own)."""
        g = host_git(self.tree, git_dir=self.shadow, work_tree=self.tree, scan_drivers=False)
        g.update_environment(GIT_INDEX_FILE=str(self.shadow / index))
        return g

    def snapshot(self, label: str = "checkpoint", *, record: bool = True) -> str:
        """Record the scratch tree (tracked + untracked, not ignored) as a git tree object.

        `label` "base" sets refs/ama/base; otherwise, with `record`, the tree becomes the
        next checkpoint, refs/ama/checkpoints/N (what `undo` walks back through and a
        resumed session reopens at). Returns the tree id. (Trees, not commits: a change
        set and a restore need only trees, and writing a ref file is ours to do: the
        shadow repo is private.)
        """
        shadow = self._shadow_git()
        shadow.add("--all", "--", ".")
        if self.is_git:  # files the repo tracks although .gitignore matches them
            if self._tracked_ignored is None:
                self._tracked_ignored = host_git(self.tree).ls_files(
                    "-z", "--cached", "--ignored", "--exclude-standard",
                    with_exceptions=False, stdout_as_string=False).split(b"\0")
            paths = [p for p in self._tracked_ignored
                     if p and os.path.lexists(self.tree / os.fsdecode(p))]
            if paths:
                pathspec = self.shadow / "snap-paths"
                pathspec.write_bytes(b"\0".join(paths))
                shadow.add("--force", f"--pathspec-from-file={pathspec}", "--pathspec-file-nul")
        tree = shadow.write_tree().strip()
        if label == "base":
            ref = "refs/ama/base"
        elif record:
            self.checkpoints.append(tree)
            ref = f"refs/ama/checkpoints/{len(self.checkpoints)}"
        else:
            return tree
        path = self.shadow / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tree + "\n")
        return tree

    def head(self) -> str:
        """The latest snapshot (the base if nothing was checkpointed)."""
        return self.checkpoints[-1] if self.checkpoints else self.base

    def change_set(self, *, fresh: bool = True) -> ChangeSet:
        """Diff from the user's tree at start (base) to the scratch tree now."""
        target = self.snapshot("final", record=False) if fresh else self.head()
        return diff_trees(self.shadow, self.tree, self.base, target)

    def restore(self, commit: str) -> None:
        """Make the scratch tree exactly `commit`'s tree (files created since are removed)."""
        current = self.snapshot("before-restore", record=False)
        added = self._shadow_git().diff("--name-only", "-z", "--no-renames", "--diff-filter=A",
                                        commit, current, stdout_as_string=False)
        for rel in added.split(b"\0"):
            if rel:
                _remove_entry(self.tree / os.fsdecode(rel))
        restore = self._shadow_git("restore-index")
        restore.read_tree(commit)
        restore.checkout_index("--all", "--force")

    def rewind(self, tree: str) -> None:
        """Go back to an earlier checkpoint `tree`, keeping where we were as a checkpoint
        so that `undo` returns to it."""
        if self.snapshot(record=False) != self.head():
            self.snapshot()
        self.restore(tree)
        self.snapshot()

    def undo(self) -> int | None:
        """Restore the checkpoint before the current state (files, and what commands did
        in the tree). Returns how many checkpoints are left (0: back at the start), or
        None when there is nothing to undo."""
        current = self.snapshot(record=False)
        while self.checkpoints and self.checkpoints[-1] == current:
            (self.shadow / f"refs/ama/checkpoints/{len(self.checkpoints)}").unlink(missing_ok=True)
            self.checkpoints.pop()
        target = self.checkpoints[-1] if self.checkpoints else self.start
        if target == current:
            return None
        self.restore(target)
        return len(self.checkpoints)

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _status_v2_path(entry: bytes) -> str | None:
    """The path of one `git status --porcelain=v2 -z` entry (None for headers)."""
    if entry.startswith(b"1 "):      # ordinary change: 8 fields, then the path
        return os.fsdecode(entry.split(b" ", 8)[8])
    if entry.startswith(b"u "):      # unmerged: 10 fields, then the path
        return os.fsdecode(entry.split(b" ", 10)[10])
    if entry.startswith(b"? "):      # untracked
        return os.fsdecode(entry[2:])
    return None


def _copy_entry(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(dst) or dst.is_symlink():
        _remove_entry(dst)
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():  # an untracked nested repo or empty dir: copy as is
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)


def _remove_entry(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
