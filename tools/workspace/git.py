"""Git on the host, hardened: a repository can never make us run its commands.

A repository's `.git/config` (and `.gitattributes`) can name programs that git runs
on ordinary operations: `core.fsmonitor` on status, `core.hooksPath` / hooks on
commit, `core.pager`, `diff.external` and textconv drivers on diff, filter drivers
on add/checkout, merge drivers on stash/checkout. The scratch copy is written by an
untrusted model, and the user's repo may be hostile too, so every git command we run
goes through `git_cmd`, which overrides each of those with `-c` (command-line
config wins over every file), including every driver name the repo's config defines.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

_FIXED = (
    "core.fsmonitor=false", "core.hooksPath=/dev/null", "core.pager=cat",
    "core.editor=true", "sequence.editor=true", "core.askPass=", "credential.helper=",
    "core.sshCommand=", "core.gitProxy=", "diff.external=", "commit.gpgSign=false",
    "tag.gpgSign=false", "gpg.program=", "gc.auto=0", "maintenance.auto=false",
    "protocol.allow=never", "protocol.file.allow=always", "core.untrackedCache=false",
    "advice.detachedHead=false", "init.defaultBranch=main", "core.quotePath=false",
)
# Per-driver keys that name a command. Each driver name defined in the repo's config
# gets all of its command keys blanked.
_DRIVER_KEYS = {
    "filter": ("clean", "smudge", "process"),
    "diff": ("command", "textconv"),
    "merge": ("driver",),
}
_ENV_DROP_PREFIXES = ("GIT_",)
_IDENTITY = {"GIT_AUTHOR_NAME": "amanuensis", "GIT_AUTHOR_EMAIL": "ama@localhost",
             "GIT_COMMITTER_NAME": "amanuensis", "GIT_COMMITTER_EMAIL": "ama@localhost"}


class GitError(Exception):
    def __init__(self, args: Sequence[str], code: int, stderr: str):
        super().__init__(f"git {' '.join(args)} failed ({code}): {stderr.strip()}")
        self.code = code
        self.stderr = stderr


def git_env(extra: Mapping[str, str] | None = None, identity: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_DROP_PREFIXES)}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", PAGER="cat", GIT_OPTIONAL_LOCKS="0",
               GIT_CONFIG_NOSYSTEM="1", GIT_ATTR_NOSYSTEM="1", LC_ALL="C")
    if identity:
        env.update(_IDENTITY)
    env.update(extra or {})
    return env


def _driver_overrides(cwd: Path, git_dir: Path | None) -> list[str]:
    """Blank every filter/diff/merge driver command the repository's config defines."""
    base = ["git", "--no-pager"] + [a for kv in _FIXED for a in ("-c", kv)]
    if git_dir is not None:
        base += ["--git-dir", str(git_dir)]
    proc = subprocess.run(base + ["config", "--includes", "--name-only", "--list"], cwd=cwd,
                          env=git_env(), capture_output=True, text=True)
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for key in proc.stdout.splitlines():
        section, _, rest = key.partition(".")
        name, _, _leaf = rest.rpartition(".")
        if section.lower() in _DRIVER_KEYS and name and (section, name) not in seen:
            seen.add((section, name))
            for leaf in _DRIVER_KEYS[section.lower()]:
                out += ["-c", f"{section}.{name}.{leaf}="]
    return out


def git_cmd(args: Sequence[str], *, cwd: Path, git_dir: Path | None = None,
            work_tree: Path | None = None, skip_driver_scan: bool = False) -> list[str]:
    """The full hardened argv for `git ARGS` run in `cwd`.

    `skip_driver_scan`: skip the extra `git config` call that finds driver names to
    blank. Only for our own shadow repo (no sandbox can reach its config) and for
    commands that never run a driver (rev-parse).
    """
    argv = ["git", "--no-pager"] + [a for kv in _FIXED for a in ("-c", kv)]
    if not skip_driver_scan:
        argv += _driver_overrides(cwd, git_dir)
    if git_dir is not None:
        argv += ["--git-dir", str(git_dir)]
    if work_tree is not None:
        argv += ["--work-tree", str(work_tree)]
    return argv + list(args)


def run_git(args: Sequence[str], *, cwd: Path, git_dir: Path | None = None,
            work_tree: Path | None = None, env: Mapping[str, str] | None = None,
            input: bytes | None = None, check: bool = True, identity: bool = False,
            timeout: float = 300, skip_driver_scan: bool = False) -> subprocess.CompletedProcess[bytes]:
    """Run hardened git; returns the completed process (bytes). Raises GitError if `check`."""
    argv = git_cmd(args, cwd=cwd, git_dir=git_dir, work_tree=work_tree, skip_driver_scan=skip_driver_scan)
    proc = subprocess.run(argv, cwd=cwd, env=git_env(env, identity), input=input,
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise GitError(list(args), proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc


def git_out(args: Sequence[str], **kw) -> str:
    return run_git(args, **kw).stdout.decode("utf-8", "replace")


def is_git_repo(path: Path) -> Path | None:
    """The top level of the git work tree containing `path`, or None."""
    proc = run_git(["rev-parse", "--show-toplevel"], cwd=path, check=False, skip_driver_scan=True)
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.decode().strip())
