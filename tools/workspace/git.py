"""Git on the host, hardened: a repository can never make us run its commands.

A repository's `.git/config` (and `.gitattributes`) can name programs that git runs
on ordinary operations: `core.fsmonitor` on status, `core.hooksPath` / hooks on
commit, `core.pager`, `diff.external` and textconv drivers on diff, filter drivers
on add/checkout, merge drivers on stash/checkout. The scratch copy is written by an
untrusted model, and the user's repo may be hostile too, so every git command we run
goes through `host_git(path)`: a GitPython `git.Git` whose every command overrides
each of those with `-c` (command-line config wins over every file), including every
driver name the repo's config defines, and runs with no `GIT_*` variable of ours but
the ones set here (no system config, no prompts, no pager).

    g = host_git(top)                         # the user's repository
    g.status("--porcelain=v2", "-z", stdout_as_string=False)
    code, out, err = g.rev_parse("--verify", "HEAD", with_extended_output=True,
                                 with_exceptions=False)

Only `git.Git` is handed out, never a `git.Repo`: Repo's own Python code (index
commits, for one) runs the repository's hooks itself, outside these overrides.
GitPython is imported only when git first runs, never at `ama --help` time.
"""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import git

    from tools.workspace.atomic_files import FileWrite

FIXED_OPTIONS = (
    "core.fsmonitor=false", "core.hooksPath=/dev/null", "core.pager=cat",
    "core.editor=true", "sequence.editor=true", "core.askPass=", "credential.helper=",
    "core.sshCommand=", "core.gitProxy=", "diff.external=", "commit.gpgSign=false",
    "tag.gpgSign=false", "gpg.program=", "gc.auto=0", "maintenance.auto=false",
    "protocol.allow=never", "protocol.file.allow=always", "core.untrackedCache=false",
    "advice.detachedHead=false", "init.defaultBranch=main", "core.quotePath=false",
)
# Per-driver keys that name a command. Each driver name defined in the repo's config
# gets all of its command keys blanked.
DRIVER_KEYS = {
    "filter": ("clean", "smudge", "process"),
    "diff": ("command", "textconv"),
    "merge": ("driver",),
}
# Every git command runs with these; any other GIT_* variable of our own environment
# is removed (a hook's GIT_DIR or the user's GIT_CONFIG_PARAMETERS must not steer it).
SAFE_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat",
            "GIT_OPTIONAL_LOCKS": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_ATTR_NOSYSTEM": "1",
            "LC_ALL": "C"}
IDENTITY = {"GIT_AUTHOR_NAME": "amanuensis", "GIT_AUTHOR_EMAIL": "ama@localhost",
            "GIT_COMMITTER_NAME": "amanuensis", "GIT_COMMITTER_EMAIL": "ama@localhost"}
GIT_TIMEOUT = 300.0  # seconds one git command may run before it is killed


class GitError(Exception):
    """A git command failed: `code` its exit status, `stderr` what it said."""

    def __init__(self, args: Sequence[str], code: int, stderr: str):
        super().__init__(f"git {' '.join(args)} failed ({code}): {stderr.strip()}")
        self.code = code
        self.stderr = stderr


def host_git(cwd: Path, *, git_dir: Path | None = None, work_tree: Path | None = None,
             scan_drivers: bool = True) -> "git.Git":
    """A GitPython `git.Git` that runs every command hardened, in `cwd`.

    Args:
        cwd:          where git runs (must exist: git never falls back to another dir).
        git_dir, work_tree: passed as `--git-dir` / `--work-tree` on every command.
        scan_drivers: before each command, list the repository's config to blank
            every filter/diff/merge driver it names. False only for our own shadow
            repo (no sandbox can reach its config) and for commands that never run
            a driver (rev-parse, check-ref-format).
    Commands raise GitError on a non-zero exit (unless `with_exceptions=False`) and
    are killed after GIT_TIMEOUT seconds (`kill_after_timeout` to change it).
    """
    return _hardened_git_class()(cwd, git_dir=git_dir, work_tree=work_tree,
                                 scan_drivers=scan_drivers)


@functools.cache
def _hardened_git_class():
    import git

    class HardenedGit(git.Git):
        """git.Git whose `execute` (the one door every command goes through) adds the
        overrides, so no call, ours or GitPython's own, can run without them."""

        def __init__(self, cwd: Path, *, git_dir: Path | None, work_tree: Path | None,
                     scan_drivers: bool):
            super().__init__(cwd)
            self._working_dir = os.fspath(cwd)  # as given: GitPython would expand $VARS
            self._location = ((["--git-dir", os.fspath(git_dir)] if git_dir else [])
                              + (["--work-tree", os.fspath(work_tree)] if work_tree else []))
            self._scan_drivers = scan_drivers
            self.update_environment(**SAFE_ENV)

        def execute(self, command, **kwargs):
            git_exe = self.GIT_PYTHON_GIT_EXECUTABLE
            if isinstance(command, str) or not command or command[0] != git_exe:
                raise ValueError(f"not a git command line: {command!r}")
            if not os.access(self._working_dir, os.X_OK):  # GitPython would use our cwd
                raise NotADirectoryError(f"git cannot run in {self._working_dir}: "
                                         f"no such directory")
            args = list(command[1:])
            argv = self._argv(args, kwargs.get("env"), self._scan_drivers)
            kwargs.setdefault("kill_after_timeout", GIT_TIMEOUT)
            kwargs["shell"] = False  # never a shell, whatever Git.USE_SHELL says
            if kwargs.get("as_process") or kwargs.get("output_stream") is not None:
                return super().execute(argv, **kwargs)
            raise_on_error = kwargs.pop("with_exceptions", True)
            extended = kwargs.pop("with_extended_output", False)
            code, out, err = super().execute(argv, with_extended_output=True,
                                             with_exceptions=False, **kwargs)
            if raise_on_error and code != 0:
                raise GitError(args, code, err)
            return (code, out, err) if extended else out

        def _argv(self, args: list[str], env, scan_drivers: bool) -> list[str]:
            argv = [self.GIT_PYTHON_GIT_EXECUTABLE, "--no-pager"]
            argv += [a for kv in FIXED_OPTIONS for a in ("-c", kv)]
            if scan_drivers:
                argv += self._driver_overrides()
            argv += self._location + args
            # GitPython starts from a copy of os.environ and can only add to it; `env -u`
            # takes out the GIT_* variables that are not ours.
            keep = {*self._environment, *(env or {})}
            drop = sorted(k for k in os.environ if k.startswith("GIT_") and k not in keep)
            return ["env", *(a for k in drop for a in ("-u", k)), *argv] if drop else argv

        def _driver_overrides(self) -> list[str]:
            """`-c` options blanking every filter/diff/merge driver command the
            repository's config defines (includes followed)."""
            argv = self._argv(["config", "--includes", "--name-only", "--list"], None, False)
            _, listing, _ = super().execute(argv, with_extended_output=True,
                                            with_exceptions=False, shell=False,
                                            kill_after_timeout=GIT_TIMEOUT)
            out: list[str] = []
            seen: set[tuple[str, str]] = set()
            for key in listing.splitlines():
                section, _, rest = key.partition(".")
                name, _, _leaf = rest.rpartition(".")
                if section.lower() in DRIVER_KEYS and name and (section, name) not in seen:
                    seen.add((section, name))
                    out += [a for leaf in DRIVER_KEYS[section.lower()]
                            for a in ("-c", f"{section}.{name}.{leaf}=")]
            return out

    return HardenedGit


def repo_top(path: Path) -> Path | None:
    """The top level of the git work tree containing `path`, or None."""
    code, out, _ = host_git(path, scan_drivers=False).rev_parse(
        "--show-toplevel", with_extended_output=True, with_exceptions=False)
    return Path(out.strip()) if code == 0 else None


def check_new_branch(top: Path, name: str) -> None:
    """Raise ValueError, with a message for the user, unless `name` can be a new branch
    of the repository at `top` (a valid name, and no branch has it yet)."""
    g = host_git(top, scan_drivers=False)
    code, out, _ = g.check_ref_format("--branch", name, with_extended_output=True,
                                      with_exceptions=False)
    if code != 0 or out.strip() != name:  # `--branch` also expands "@{-1}": not a new name
        raise ValueError(f"{name!r} is not a valid branch name; pick another with "
                         f"--apply branch:NAME")
    code, _, _ = g.rev_parse("--verify", "-q", f"refs/heads/{name}",
                             with_extended_output=True, with_exceptions=False)
    if code == 0:
        raise ValueError(f"branch {name!r} already exists; pick another name with "
                         f"--apply branch:NAME")


def commit_identity(g: "git.Git") -> dict[str, str]:
    """Author and committer variables for a commit ama makes: none where git's config
    names the user (theirs is used), else amanuensis's own."""
    code, _, _ = g.config("user.email", with_extended_output=True, with_exceptions=False)
    return {} if code == 0 else dict(IDENTITY)


def tree_with(g: "git.Git", base: str, writes: Sequence["FileWrite"]) -> str:
    """The id of a new tree: `base` (a tree or commit id, "" for the empty tree) with
    `writes` applied (data None: the path removed). Built in an index of its own, so
    the repository's index and work tree stay as they are."""
    with tempfile.TemporaryDirectory(prefix="ama-index-") as tmp:
        old = g.update_environment(GIT_INDEX_FILE=str(Path(tmp) / "index"))
        try:
            if base:
                g.read_tree(base)
            removed = [w.path for w in writes if w.data is None]
            if removed:
                g.update_index("--force-remove", "--", *removed)
            kept = [w for w in writes if w.data is not None]
            for w, sha in zip(kept, write_blobs(g, [w.data for w in kept])):
                g.update_index("--add", "--cacheinfo", f"{w.mode},{sha},{w.path}")
            return g.write_tree().strip()
        finally:
            g.update_environment(**old)


def write_blobs(g: "git.Git", blobs: Sequence[bytes]) -> list[str]:
    """Store `blobs` in the object database of `g`'s repository exactly as given (no
    filters); returns their ids, in order. One git command for all of them."""
    if not blobs:
        return []
    with tempfile.TemporaryDirectory(prefix="ama-blobs-") as tmp:
        paths = []
        for i, data in enumerate(blobs):
            path = Path(tmp) / str(i)
            path.write_bytes(data)
            paths.append(str(path))
        listing = Path(tmp) / "paths"
        listing.write_text("\n".join(paths) + "\n")
        with open(listing, "rb") as stdin:
            out = g.hash_object("-w", "--no-filters", "--stdin-paths", istream=stdin)
    return out.split()
