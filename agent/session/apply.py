"""Applying a run's change set to the user's tree the way `--apply` asks:

    patch          report only (and write the diff to --patch-out)
    tree           apply it to the working tree, atomically
    commit         apply it and commit it on the current branch
    branch:NAME    commit it on a new branch NAME, leaving the working tree alone

`check_apply_target` says before a run starts what would make the mode impossible.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, TYPE_CHECKING

from agent.core.errors import BadInput, RuntimeFailure

if TYPE_CHECKING:
    from tools.workspace.changeset import ChangeSet


def check_apply_target(cwd: Path, apply: str) -> None:
    """BadInput when `apply` cannot work in `cwd` (no git repository, a bad branch name,
    a branch that exists already)."""
    if apply != "commit" and not apply.startswith("branch:"):
        return
    from tools.workspace.git import check_new_branch, repo_top
    top = repo_top(cwd)
    if top is None:
        raise BadInput(f"--apply {apply} needs a git repository; {cwd} is not in one "
                       f"(use --apply patch or tree)")
    if apply.startswith("branch:"):
        name = apply.split(":", 1)[1]
        try:
            check_new_branch(top, name)
        except ValueError as e:
            raise BadInput(f"--apply branch:{name}: {e}") from e


def apply_change_set(cs: "ChangeSet", user_root: Path, mode: str, *, patch_out: Path | None,
                     message: str, author: str | None = None) -> dict[str, Any]:
    """Apply `cs` per `mode`; returns the result object's `applied`. `message` becomes the
    commit message (its first line the subject); `author` is "Name <email>".
    RuntimeFailure when the user's tree moved under a change (nothing is applied then)."""
    from tools.workspace.changeset import ApplyConflict, apply_branch, apply_commit, apply_to_tree
    subject = commit_message(message)
    try:
        if mode == "patch":
            if patch_out is not None:
                write_patch(cs, patch_out)
            return {"mode": "patch", "patch_out": str(patch_out) if patch_out else None}
        if mode == "tree":
            return {"mode": "tree", "paths": apply_to_tree(cs, user_root)}
        if mode == "commit":
            return {"mode": "commit", "commit": apply_commit(cs, user_root, subject, author=author)}
        branch = mode.split(":", 1)[1]
        return {"mode": "branch", "branch": branch,
                "commit": apply_branch(cs, user_root, branch, subject, author=author)}
    except ApplyConflict as e:
        raise RuntimeFailure(str(e)) from e


def commit_message(text: str) -> str:
    """A commit message from the model's last answer: a short subject, the rest as body."""
    lines = [l for l in text.strip().splitlines() if l.strip()] or ["Changes by amanuensis"]
    subject = lines[0].strip().lstrip("#").strip()[:72]
    body = "\n".join(lines[1:]).strip()
    return subject + ("\n\n" + body if body else "")


def write_patch(cs: "ChangeSet", path: Path) -> None:
    """Write the diff to --patch-out (checked writable before the run: RunRequest).
    RuntimeFailure if it fails all the same (disk full, the folder removed meanwhile)."""
    try:
        path.write_text(cs.patch)
    except OSError as e:
        raise RuntimeFailure(f"--patch-out {path}: could not write the diff ({e.strerror or e}); "
                             f"the change set is kept: `ama review` shows it") from None
