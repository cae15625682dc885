"""Hunk-by-hunk review of a change set, as pure functions plus two narrow writers.

    items = split_change_set(cs)            # per file: hunks, or one whole-file item
    decide: item.decisions[i] = "accept" | "reject" | None (undecided: stays pending)
    report = apply_review(ws, cs, items)    # user's tree, scratch copy, workspace base

Text files that were modified (same mode) split into hunks; anything else (added,
deleted, renamed, binary, mode or type change) is one whole-file item.

What `apply_review` guarantees:
- The user's tree gets exactly the accepted hunks, written together (temp files, then
  renames). A file the user edited meanwhile gets the hunks by context; a hunk that no
  longer applies makes that whole file a conflict: neither the user's file nor the
  scratch copy is touched, and the file stays pending. A file the user already made
  exactly what the change set makes it (a patch applied by hand) is not written again:
  accepting it only moves the base (`take_applied_by_hand` decides those up front).
- The scratch copy drops the rejected hunks (it becomes base + accepted + undecided),
  so the model's view matches what the user kept.
- The workspace base moves to base + accepted, so the next change set shows only what
  is still pending.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tools.workspace.atomic_files import FileWrite, write_atomically
from tools.workspace.changeset import ChangeSet, FileChange, user_blob
from tools.workspace.git import host_git, tree_with
from tools.workspace.hunks import Hunk, HunkConflict, apply_hunks, apply_hunks_fuzzy, compute_hunks

if TYPE_CHECKING:
    from tools.workspace.scratch import Workspace

Decision = Literal["accept", "reject"]


@dataclass
class FileItem:
    """One file of the review. `hunks` empty: a whole-file item (one decision at [0])."""
    change: FileChange
    hunks: list[Hunk] = field(default_factory=list)
    decisions: list[Decision | None] = field(default_factory=list)
    old_text: str = ""      # for hunked files only: the base content

    def __post_init__(self) -> None:
        if not self.decisions:
            self.decisions = [None] * max(1, len(self.hunks))

    @property
    def path(self) -> str:
        return self.change.path

    @property
    def whole_file(self) -> bool:
        return not self.hunks

    def describe(self) -> str:
        """What a whole-file item does, in words ("new file", "renamed from x", ...)."""
        c = self.change
        if c.status == "added":
            return "new file" + (" (binary)" if c.binary else "")
        if c.status == "deleted":
            return "deleted"
        if c.status == "renamed":
            return f"renamed from {c.old_path}" + (" (and changed)" if c.old_blob != c.new_blob else "")
        if c.binary:
            return "binary file changed"
        if c.old_mode != c.new_mode:
            return f"mode {c.old_mode} → {c.new_mode}"
        return c.status


@dataclass
class ReviewReport:
    applied: list[str] = field(default_factory=list)       # paths written in the user's tree
    reverted: list[str] = field(default_factory=list)      # paths changed back in the scratch copy
    conflicts: dict[str, str] = field(default_factory=dict)  # path -> why it was left alone
    accepted_hunks: int = 0
    rejected_hunks: int = 0
    pending_hunks: int = 0


# ---- splitting -------------------------------------------------------------------

def _decode(data: bytes) -> str | None:
    if b"\0" in data[:8000]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def split_change_set(cs: ChangeSet) -> list[FileItem]:
    """One FileItem per changed file: hunks for modified text files, else whole-file."""
    items = []
    for f in cs.files:
        if (f.status == "modified" and not f.binary and f.old_mode == f.new_mode
                and f.old_mode != "120000" and f.old_blob and f.new_blob):
            old, new = _decode(cs.blob(f.old_blob)), _decode(cs.blob(f.new_blob))
            if old is not None and new is not None:
                hunks = compute_hunks(old, new)
                if hunks:
                    items.append(FileItem(f, hunks, old_text=old))
                    continue
        items.append(FileItem(f))
    return items


# ---- applying a review -------------------------------------------------------------

def _file_mode(path: Path) -> str:
    if path.is_symlink():
        return "120000"
    return "100755" if path.is_file() and os.access(path, os.X_OK) else "100644"


def _whole_file_writes(cs: ChangeSet, c: FileChange, new_side: bool) -> list[FileWrite]:
    """Writes that make a path hold the new side (accept) or the old side (revert)."""
    if new_side:
        out = [FileWrite(c.old_path, None)] if c.old_path else []
        out.append(FileWrite(c.path, cs.blob(c.new_blob) if c.new_blob else None, c.new_mode or "100644"))
        return out
    out = [FileWrite(c.path, None)] if c.old_path else []
    src = c.old_path or c.path
    out.append(FileWrite(src, cs.blob(c.old_blob) if c.old_blob else None, c.old_mode or "100644"))
    return out


def holds_new_side(c: FileChange, user_root: Path) -> bool:
    """The user's copy already has this file as the change set leaves it (applied by hand,
    e.g. with `git apply` on the run's patch): content, mode, and a rename's old path gone."""
    if c.old_path and os.path.lexists(user_root / c.old_path):
        return False
    dest = user_root / c.path
    if not c.new_blob:
        return not os.path.lexists(dest)
    return user_blob(dest) == c.new_blob and (not c.new_mode or _file_mode(dest) == c.new_mode)


def take_applied_by_hand(items: list[FileItem], user_root: Path) -> tuple[list[FileItem], list[FileItem]]:
    """(items the user's copy already holds, now decided "accept"; the items still to review).

    Accepting them writes nothing to the user's tree and moves the workspace base, so the
    next change set no longer shows them.
    """
    done, rest = [], []
    for item in items:
        if holds_new_side(item.change, user_root):
            item.decisions = ["accept"] * len(item.decisions)
            done.append(item)
        else:
            rest.append(item)
    return done, rest


def plan_review(cs: ChangeSet, items: list[FileItem], user_root: Path
                ) -> tuple[list[FileWrite], list[FileWrite], list[FileWrite], ReviewReport]:
    """Decide every write without writing: (user writes, scratch writes, base writes, report).

    Reads the user's tree (to detect their edits); pure otherwise.
    """
    user_w: list[FileWrite] = []
    scratch_w: list[FileWrite] = []
    base_w: list[FileWrite] = []
    rep = ReviewReport()
    for item in items:
        c = item.change
        if item.whole_file:
            d = item.decisions[0]
            if d == "accept":
                w = _whole_file_writes(cs, c, new_side=True)
                if holds_new_side(c, user_root):  # applied by hand already: only the base moves
                    base_w += w
                    rep.applied.append(c.path)
                    rep.accepted_hunks += 1
                    continue
                bad = user_blob(user_root / (c.old_path or c.path)) != c.old_blob or (
                    c.old_path is not None and os.path.lexists(user_root / c.path))
                if bad:
                    rep.conflicts[c.path] = "changed in your copy since the session started"
                    continue
                user_w += w
                base_w += w
                rep.applied.append(c.path)
                rep.accepted_hunks += 1
            elif d == "reject":
                scratch_w += _whole_file_writes(cs, c, new_side=False)
                rep.reverted.append(c.path)
                rep.rejected_hunks += 1
            else:
                rep.pending_hunks += 1
            continue
        accepted = [(i, h) for i, (h, d) in enumerate(zip(item.hunks, item.decisions)) if d == "accept"]
        kept = [h for h, d in zip(item.hunks, item.decisions) if d != "reject"]
        rejected = sum(d == "reject" for d in item.decisions)
        mode = c.new_mode or "100644"
        if accepted:
            dest = user_root / c.path
            new_base = apply_hunks(item.old_text, [h for _, h in accepted])
            if holds_new_side(c, user_root):  # applied by hand already: leave the user's file be
                user_text = None
            elif user_blob(dest) == c.old_blob:
                user_text = new_base
            else:
                try:
                    current = dest.read_bytes().decode("utf-8") if dest.is_file() else None
                    if current is None:
                        raise HunkConflict(accepted[0][0], "the file is gone from your copy")
                    user_text = apply_hunks_fuzzy(current, accepted)
                except (HunkConflict, UnicodeDecodeError) as e:
                    rep.conflicts[c.path] = str(e)
                    continue
                mode = _file_mode(dest)
            if user_text is not None:
                user_w.append(FileWrite(c.path, user_text.encode("utf-8"), mode))
            base_w.append(FileWrite(c.path, new_base.encode("utf-8"), c.new_mode or "100644"))
            rep.applied.append(c.path)
        if rejected:
            scratch_w.append(FileWrite(c.path, apply_hunks(item.old_text, kept).encode("utf-8"),
                                    c.new_mode or "100644"))
            rep.reverted.append(c.path)
        rep.accepted_hunks += len(accepted)
        rep.rejected_hunks += rejected
        rep.pending_hunks += sum(d is None for d in item.decisions)
    return user_w, scratch_w, base_w, rep


def apply_review(ws: "Workspace", cs: ChangeSet, items: list[FileItem]) -> ReviewReport:
    """Carry out the decisions: user's tree, scratch copy, workspace base (see module doc)."""
    user_w, scratch_w, base_w, rep = plan_review(cs, items, ws.user_root)
    write_atomically(ws.user_root, user_w)
    write_atomically(ws.tree, scratch_w)
    if base_w:
        move_base(ws, base_w)
    return rep


def move_base(ws: "Workspace", writes: list[FileWrite]) -> str:
    """Record a new base tree = old base with `writes` applied; returns its id."""
    tree = tree_with(host_git(ws.dir, git_dir=ws.shadow, scan_drivers=False), ws.base, writes)
    (ws.shadow / "refs" / "ama").mkdir(parents=True, exist_ok=True)
    (ws.shadow / "refs" / "ama" / "base").write_text(tree + "\n")
    ws.base = tree
    return tree


def decide_all(items: list[FileItem], decision: Decision) -> None:
    for item in items:
        item.decisions = [decision] * len(item.decisions)


def summary_line(items: list[FileItem]) -> str:
    """'3 files changed, +12 −4' for the review header."""
    adds = sum(i.change.additions for i in items)
    dels = sum(i.change.deletions for i in items)
    n = len(items)
    return f"{n} file{'s' if n != 1 else ''} changed, +{adds} −{dels}"


