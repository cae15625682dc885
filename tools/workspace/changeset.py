"""A change set: what the session changed, from the user's tree at start to the scratch
tree now, and the ways of applying it to the user's repository.

Applying is file-level and checked: a file the user changed meanwhile (its content no
longer matches what the session started from) is a conflict, reported by name, and
nothing is written. Writes go to temp files first and are renamed into place.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.workspace.atomic_files import FileWrite, write_atomically
from tools.workspace.git import check_new_branch, commit_identity, host_git, tree_with

_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "T": "type_changed",
           "C": "copied"}
_ZERO = "0" * 40


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str                    # added | modified | deleted | renamed | type_changed
    old_path: str | None = None    # for renames
    additions: int = 0
    deletions: int = 0
    binary: bool = False
    old_mode: str | None = None    # "100644", "100755", "120000" (symlink); None if absent
    new_mode: str | None = None
    old_blob: str | None = None
    new_blob: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class ChangeSet:
    files: tuple[FileChange, ...]
    patch: str
    shadow: Path = field(repr=False, default=Path("."))
    base: str = ""
    target: str = ""

    @property
    def empty(self) -> bool:
        return not self.files

    def summary(self) -> dict:
        return {"files": [f.to_dict() for f in self.files], "patch": self.patch}

    def blob(self, sha: str) -> bytes:
        return host_git(self.shadow, git_dir=self.shadow, scan_drivers=False).cat_file(
            "blob", sha, stdout_as_string=False, strip_newline_in_stdout=False)


class ApplyConflict(Exception):
    def __init__(self, paths: list[str]):
        super().__init__("these files changed in your tree since the session started, so the "
                         "session's version would overwrite your edits: " + ", ".join(paths)
                         + ". Nothing was applied; the patch is in the result object "
                         "(or re-run with --apply patch).")
        self.paths = paths


def diff_trees(shadow: Path, work_tree: Path, base: str, target: str) -> ChangeSet:
    """The change set between two snapshot commits of the shadow repo."""
    g = host_git(shadow, git_dir=shadow, scan_drivers=False)
    raw = g.diff_tree("-r", "-z", "-M", "--raw", "--no-commit-id", base, target,
                      stdout_as_string=False)
    num = g.diff_tree("-r", "-z", "-M", "--numstat", "--no-commit-id", base, target,
                      stdout_as_string=False)
    patch = g.diff_tree("-r", "-p", "--binary", "-M", "--no-commit-id", "--no-ext-diff",
                        "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/", base, target,
                        strip_newline_in_stdout=False)
    counts = _parse_numstat(num)
    files = []
    parts = raw.split(b"\0")
    i = 0
    while i < len(parts) - 1:
        meta = parts[i].decode()
        if not meta.startswith(":"):
            i += 1
            continue
        old_mode, new_mode, old_sha, new_sha, status = meta[1:].split(" ")
        kind = status[0]
        if kind in "RC":
            old_path, path = os.fsdecode(parts[i + 1]), os.fsdecode(parts[i + 2])
            i += 3
        else:
            old_path, path = None, os.fsdecode(parts[i + 1])
            i += 2
        adds, dels, binary = counts.get(path, (0, 0, False))
        files.append(FileChange(
            path=path, status=_STATUS.get(kind, kind), old_path=old_path,
            additions=adds, deletions=dels, binary=binary,
            old_mode=None if old_mode == "000000" else old_mode,
            new_mode=None if new_mode == "000000" else new_mode,
            old_blob=None if old_sha == _ZERO else old_sha,
            new_blob=None if new_sha == _ZERO else new_sha))
    return ChangeSet(tuple(files), patch, shadow=shadow, base=base, target=target)


def _parse_numstat(raw: bytes) -> dict[str, tuple[int, int, bool]]:
    out: dict[str, tuple[int, int, bool]] = {}
    parts = raw.split(b"\0")
    i = 0
    while i < len(parts):
        if not parts[i]:
            i += 1
            continue
        adds, dels, path = parts[i].decode(errors="replace").split("\t", 2)
        if path == "":  # rename: old and new path follow
            path = os.fsdecode(parts[i + 2])
            i += 3
        else:
            i += 1
        binary = adds == "-"
        out[path] = (0 if binary else int(adds), 0 if binary else int(dels), binary)
    return out


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def user_blob(path: Path) -> str | None:
    """The git blob id of what the user's tree holds at `path` (a symlink's target), None if nothing."""
    if path.is_symlink():
        return blob_sha(os.fsencode(os.readlink(path)))
    if not path.is_file():
        return None
    return blob_sha(path.read_bytes())


def check_conflicts(cs: ChangeSet, user_root: Path) -> list[str]:
    """Paths whose content in the user's tree is no longer what the session started from."""
    bad = []
    for f in cs.files:
        src = f.old_path or f.path
        if user_blob(user_root / src) != f.old_blob:
            bad.append(src)
        if f.old_path and os.path.lexists(user_root / f.path):
            bad.append(f.path)
    return bad


def apply_to_tree(cs: ChangeSet, user_root: Path) -> list[str]:
    """Write the change set into the user's tree. Returns the paths touched.

    Raises ApplyConflict (nothing written) if any file changed under us.
    """
    conflicts = check_conflicts(cs, user_root)
    if conflicts:
        raise ApplyConflict(conflicts)
    write_atomically(user_root, _writes(cs))
    return sorted({f.path for f in cs.files} | {f.old_path for f in cs.files if f.old_path})


def _writes(cs: ChangeSet) -> list[FileWrite]:
    """The writes that turn the base into the change set's target, file by file."""
    writes: list[FileWrite] = []
    for f in cs.files:
        if f.old_path or f.new_blob is None or f.status == "type_changed":
            writes.append(FileWrite(f.old_path or f.path, None))
        if f.new_blob is not None:
            writes.append(FileWrite(f.path, cs.blob(f.new_blob), f.new_mode or "100644"))
    return writes


def author_env(author: str | None) -> dict[str, str]:
    """Git's author and committer variables for "Name <email>" ({} for None).
    Raises ValueError for any other shape."""
    if author is None:
        return {}
    m = re.fullmatch(r"\s*([^<>\n]*?)\s*<([^<>\s]+)>\s*", author)
    if not m or not m.group(1):
        raise ValueError(f"--author {author!r}: write it as \"Name <email>\"")
    name, email = m.groups()
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


def apply_commit(cs: ChangeSet, user_root: Path, message: str, author: str | None = None) -> str:
    """Apply to the tree, then commit exactly those paths (by `author`, "Name <email>",
    if given). Returns the commit id."""
    paths = apply_to_tree(cs, user_root)
    g = host_git(user_root)
    g.add("--all", "--", *paths)
    g.commit("--quiet", "--no-verify", "-m", message, "--", *paths,
             env={**commit_identity(g), **author_env(author)})
    return g.rev_parse("HEAD").strip()


def apply_branch(cs: ChangeSet, user_root: Path, branch: str, message: str,
                 author: str | None = None) -> str:
    """Create `branch` at HEAD + one commit holding the change set (by `author`, "Name
    <email>", if given); the tree is untouched. Returns the commit id.

    Raises ValueError (a message for the user) for an invalid or existing branch name.
    """
    check_new_branch(user_root, branch)
    g = host_git(user_root)
    code, parent, _ = g.rev_parse("--verify", "-q", "HEAD", with_extended_output=True,
                                  with_exceptions=False)
    parent = parent.strip() if code == 0 else ""
    tree = tree_with(g, parent, _writes(cs))
    parents = ["-p", parent] if parent else []
    commit = g.commit_tree(tree, "-m", message, *parents,
                           env={**commit_identity(g), **author_env(author)}).strip()
    g.update_ref(f"refs/heads/{branch}", commit, _ZERO)
    return commit
