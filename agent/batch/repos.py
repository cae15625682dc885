"""Each task's repository at its base commit, in a folder of its own.

Where the repository comes from, first match wins:
    a task's `cwd`                 used as it is (with `base_commit`: a clone of it)
    a path in `repo`               that repository
    `--repos DIR`                  DIR/owner+name, DIR/owner/name (either with `.git`:
                                   a bare repo), DIR/owner__name
    a URL in `repo`, or `--repo-url` with {repo}
                                   cloned once (bare) into AMA_HOME/cache/batch-repos/,
                                   under a file lock, and reused by later tasks

The task's folder is a local clone (objects hard-linked where the file system allows)
checked out detached at `base_commit`; with `--test-cmd` the task's `test_patch` is
applied there, so the tests exist in the tree the session starts from and never show
in its change set. Every git command runs through the hardened host git.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
from pathlib import Path

from agent.batch.tasks import Task
from agent.core.errors import BadInput

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://|^[^/@\s]+@[^/:\s]+:")
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def prepare_checkout(task: Task, work_dir: Path, *, repos: Path | None, repo_url: str,
                     apply_test_patch: bool) -> Path:
    """The folder the task's session works on. `work_dir` is the task's own scratch
    folder (the caller removes it). BadInput says what could not be found or applied."""
    if task.cwd is not None:
        source = Path(task.cwd)
        if not source.is_dir():
            raise BadInput(f"task {task.id}: cwd {source}: no such directory")
        if task.base_commit is None and not (apply_test_patch and task.test_patch):
            return source
    else:
        source = find_repo(task, repos, repo_url)
    dest = work_dir / "repo"
    _git(work_dir, "clone", "--quiet", "--no-checkout", "--", str(source), str(dest),
         what=f"task {task.id}: could not clone {source}")
    commit = task.base_commit or "HEAD"
    code, _, _ = _run(dest, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    if code != 0:
        raise BadInput(f"task {task.id}: base_commit {commit} is not in {source}; fetch it "
                       f"into that repository, or fix the task's base_commit")
    _git(dest, "checkout", "--quiet", "--detach", commit, what=f"task {task.id}: checkout")
    if apply_test_patch and task.test_patch:
        patch = work_dir / "test.patch"
        patch.write_text(task.test_patch if task.test_patch.endswith("\n")
                         else task.test_patch + "\n", encoding="utf-8")
        _git(dest, "apply", "--whitespace=nowarn", str(patch),
             what=f"task {task.id}: its test_patch does not apply at {commit}")
    return dest


def find_repo(task: Task, repos: Path | None, repo_url: str) -> Path:
    """A local repository for `task.repo`: its path, its place in `repos`, or the
    cached clone of its URL (cloned now if it is not cached yet)."""
    name = task.repo or ""
    if name.startswith("/"):
        if not Path(name).exists():
            raise BadInput(f"task {task.id}: repo {name}: no such repository")
        return Path(name)
    if repos is not None and _OWNER_NAME.match(name):
        for candidate in repo_candidates(Path(repos).expanduser(), name):
            if _is_repo(candidate):
                return candidate
    if _URL.match(name):
        url = name
    elif _OWNER_NAME.match(name):
        url = repo_url.replace("{repo}", name)
    else:
        raise BadInput(f"task {task.id}: repo {name!r} is neither owner/name, a URL nor a path")
    try:
        return cached_clone(url)
    except BadInput as e:
        where = ""
        if repos is not None and _OWNER_NAME.match(name):
            looked = ", ".join(str(p.relative_to(repos)) for p in repo_candidates(Path(repos), name))
            where = f"not in --repos {repos} (looked for {looked}), and it "
        raise BadInput(f"task {task.id}: repository {name}: {where}{e.message}; put a clone "
                       f"or bare copy in --repos, or fix the task's repo") from None


def repo_candidates(repos: Path, name: str) -> list[Path]:
    """The places in `--repos` where owner/name may be."""
    owner, _, repo = name.partition("/")
    return [repos / f"{owner}+{repo}", repos / f"{owner}+{repo}.git", repos / owner / repo,
            repos / owner / f"{repo}.git", repos / f"{owner}__{repo}", repos / f"{owner}__{repo}.git"]


def _is_repo(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def cached_clone(url: str) -> Path:
    """A bare clone of `url` under AMA_HOME/cache/batch-repos/, made once: concurrent
    tasks (threads, or processes on one node) wait on a file lock for the first."""
    from agent.config.home import ama_home
    cache = ama_home() / "cache" / "batch-repos"
    cache.mkdir(parents=True, exist_ok=True)
    key = re.sub(r"[^A-Za-z0-9._+-]+", "+", re.sub(r"^[a-z+]+://|\.git$", "", url)).strip("+")
    dest = cache / f"{key}.git"
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_repo(dest):
            return dest
        partial = cache / f"{key}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            # The hardened git allows only local clones; a clone from a URL needs its
            # protocol allowed for this one command.
            _git(cache, "-c", "protocol.allow=always", "clone", "--quiet", "--bare", "--", url,
                 str(partial), what=f"could not be cloned from {url}")
            os.replace(partial, dest)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return dest


def _run(cwd: Path, *args: str) -> tuple[int, str, str]:
    from tools.workspace.git import host_git
    g = host_git(cwd)
    return g.execute([g.GIT_PYTHON_GIT_EXECUTABLE, *args], with_extended_output=True,
                     with_exceptions=False)


def _git(cwd: Path, *args: str, what: str) -> None:
    code, _, err = _run(cwd, *args)
    if code != 0:
        detail = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
        raise BadInput(f"{what} ({detail})")
