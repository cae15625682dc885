"""List the source files of a workspace that the repo map reads.

In a git work tree: tracked and untracked-but-not-ignored files (`git ls-files -co
--exclude-standard`), so `.gitignore` is honoured. Elsewhere: a walk that skips hidden
directories and the usual dependency and build folders. Either way only files with a
known extension are kept, and symlinks are never followed (a link could point out of
the workspace).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tools.repomap.languages import EXTENSIONS, language_for

SKIP_DIRS = frozenset({
    "node_modules", "__pycache__", "venv", "env", "site-packages", "dist", "build",
    "target", "vendor", "third_party", "bower_components",
})

# Command-line config beats every config file, so the repository cannot make this
# git run a program: ls-files reads the index and the ignore files, and fsmonitor
# and hooks are the two ways a repo config could run something on the way.
_GIT = ("git", "--no-pager", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
        "-c", "core.untrackedCache=false", "-c", "core.quotePath=false")


def list_source_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files under `root` that have a tag query, sorted."""
    paths = _git_files(root)
    if paths is None:
        paths = _walk(root)
    return sorted(p for p in set(paths) if language_for(p) is not None)


def _git_files(root: Path) -> list[str] | None:
    """Files git would show in `root`, or None when `root` is not in a git work tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0",
               LC_ALL="C")
    try:
        proc = subprocess.run([*_GIT, "ls-files", "-co", "--exclude-standard", "-z"],
                              cwd=root, env=env, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
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
