"""List the source files of a workspace that the repo map reads.

In a git work tree: tracked and untracked-but-not-ignored files (`git ls-files -co
--exclude-standard`), so `.gitignore` is honoured. Elsewhere: a walk that skips hidden
directories and the usual dependency and build folders. Either way only files with a
known extension are kept, and symlinks are never followed (a link could point out of
the workspace).
"""
from __future__ import annotations

import os
from pathlib import Path

from tools.repomap.languages import EXTENSIONS, language_for
from tools.workspace.git import host_git

SKIP_DIRS = frozenset({
    "node_modules", "__pycache__", "venv", "env", "site-packages", "dist", "build",
    "target", "vendor", "third_party", "bower_components",
})
LIST_TIMEOUT = 60.0  # seconds `git ls-files` may take before the walk is used instead


def list_source_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files under `root` that have a tag query, sorted."""
    paths = _git_files(root)
    if paths is None:
        paths = _walk(root)
    return sorted(p for p in set(paths) if language_for(p) is not None)


def _git_files(root: Path) -> list[str] | None:
    """Files git would show in `root`, or None when `root` is not in a git work tree.

    Hardened git (the workspace's own runner): the repository cannot make it run a
    program."""
    try:
        code, out, _ = host_git(root).ls_files(
            "-co", "--exclude-standard", "-z", with_extended_output=True, with_exceptions=False,
            stdout_as_string=False, kill_after_timeout=LIST_TIMEOUT)
    except OSError:
        return None
    if code != 0:  # not a work tree, or killed at the timeout
        return None
    names = out.decode("utf-8", "surrogateescape").split("\0")
    return [n for n in names if n]


def _walk(root: Path) -> list[str]:
    """Candidate files under `root` (not following symlinked folders), relative."""
    out: list[str] = []
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        path, prefix = stack.pop()
        try:
            with os.scandir(path) as it:
                for entry in it:
                    name = entry.name
                    if name.startswith("."):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if name not in SKIP_DIRS:
                                stack.append((entry.path, prefix + name + "/"))
                        elif "." + name.rpartition(".")[2].lower() in EXTENSIONS:
                            out.append(prefix + name)
                    except OSError:
                        continue
        except OSError:
            continue
    return out
