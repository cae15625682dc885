"""Review in the editor: a turn's change set, offered file by file.

Each file the turn changed becomes a tool call of kind edit that carries its diff (the
user's version → the scratch copy's), and a permission request about it: accept,
accept all (this file and the rest), reject. Cancelling the request (or the turn) stops
the review; what was not decided stays pending for the next turn's review. Files the
user already made what the change set makes them are recorded without asking.

What was decided is carried out as the REPL does it (tools/workspace/review.py): the
user's tree gets the accepted files, checked for conflicts against the user's own edits;
rejected ones are reverted in the scratch copy; the workspace base moves. Text files go
through the editor's `fs/write_text_file` when it offers it (so open buffers update),
everything else — deletions, binary files, links, a new executable — with the atomic
writer directly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from acp import start_tool_call, text_block, tool_content, tool_diff_content, update_tool_call
from acp.schema import PermissionOption, ToolCallLocation, ToolCallUpdate

from tools.workspace.atomic_files import FileWrite, write_atomically
from tools.workspace.review import (FileItem, ReviewReport, decide_all, move_base, plan_review,
                                    split_change_set, take_applied_by_hand)

OPTIONS = [PermissionOption(option_id="accept", name="Accept", kind="allow_once"),
           PermissionOption(option_id="accept_all", name="Accept all", kind="allow_always"),
           PermissionOption(option_id="reject", name="Reject", kind="reject_once")]
Ask = Callable[[ToolCallUpdate, list[PermissionOption]], "str | None"]


@dataclass
class EditorReview:
    """send: a session update; ask: a permission request → the option id, None when
    cancelled; write_text(path, text): the editor's fs/write_text_file, None when the
    editor does not offer it."""
    send: Callable[[Any], None]
    ask: Ask
    write_text: Callable[[Path, str], None] | None = None

    def run(self, ws, cs, *, auto: bool, turn: int) -> ReviewReport:
        """Decide (ask, or accept all when `auto`) and apply. `turn` keeps the review's
        tool call ids apart from other turns'."""
        items = split_change_set(cs)
        _, to_review = take_applied_by_hand(items, ws.user_root)
        asked: list[tuple[str, FileItem]] = []
        if auto:
            decide_all(to_review, "accept")
        else:
            asked = self._ask_each(to_review, cs, ws.user_root, turn)
        report = self.apply(ws, cs, items)
        for call_id, item in asked:
            if item.decisions[0] is not None:
                self.send(update_tool_call(call_id, status=_status(item, report), content=[
                    tool_content(text_block(_outcome(item, report)))]))
        return report

    def _ask_each(self, items: list[FileItem], cs, user_root: Path, turn: int
                  ) -> list[tuple[str, FileItem]]:
        """Ask about each file in turn (after "accept all", accept the rest without
        asking); returns the (tool call id, file) of each one asked about."""
        asked: list[tuple[str, FileItem]] = []
        accept_rest = False
        for n, item in enumerate(items):
            if accept_rest:
                item.decisions = ["accept"] * len(item.decisions)
                continue
            call_id = f"review-{turn}-{n + 1}"
            title = f"Apply to your tree: {item.path} ({_stat(item)})"
            content = _diff(item, cs, user_root)
            location = [ToolCallLocation(path=str(user_root / item.path))]
            self.send(start_tool_call(call_id, title, kind="edit", status="pending",
                                      content=content, locations=location))
            answer = self.ask(ToolCallUpdate(tool_call_id=call_id, title=title, kind="edit",
                                             status="pending", content=content,
                                             locations=location), OPTIONS)
            if answer is None:   # cancelled: this file and the rest stay pending
                self.send(update_tool_call(call_id, status="failed", content=[tool_content(
                    text_block("review stopped: left pending for the next turn's review"))]))
                return asked
            asked.append((call_id, item))
            accept_rest = answer == "accept_all"
            decision = "reject" if answer == "reject" else "accept"
            item.decisions = [decision] * len(item.decisions)
        return asked

    def apply(self, ws, cs, items: list[FileItem]) -> ReviewReport:
        """Carry out the decisions: the user's tree (through the editor where it can),
        the scratch copy, the workspace base."""
        user_w, scratch_w, base_w, report = plan_review(cs, items, ws.user_root)
        by_editor = [w for w in user_w if self.write_text and _editor_can_write(w, ws.user_root)]
        write_atomically(ws.user_root, [w for w in user_w if w not in by_editor])
        for w in by_editor:
            try:
                self.write_text(ws.user_root / w.path, w.data.decode("utf-8"))
            except Exception as e:   # the editor refused or went away: the file stays pending
                report.conflicts[w.path] = f"the editor could not write it ({e})"
                report.applied.remove(w.path)
        base_w = [w for w in base_w if w.path not in report.conflicts]
        write_atomically(ws.tree, scratch_w)
        if base_w:
            move_base(ws, base_w)
        return report


def summary(report: ReviewReport) -> str:
    """What the review did, in a line or two for the thread ("" when nothing)."""
    lines = []
    if report.applied:
        lines.append(f"Applied to your tree: {', '.join(report.applied)}.")
    if report.reverted:
        lines.append(f"Rejected (reverted in ama's copy): {', '.join(report.reverted)}.")
    for path, why in report.conflicts.items():
        lines.append(f"Not applied: {path}: {why}; it stays pending.")
    return "\n".join(lines)


def _stat(item: FileItem) -> str:
    """`+1 −1`, or what a whole-file change is ("new file", "deleted", "renamed from x")."""
    c = item.change
    return f"+{c.additions} −{c.deletions}" if c.status == "modified" and not c.binary \
        else item.describe()


def _diff(item: FileItem, cs, user_root: Path) -> list:
    """The file's change as ACP diff content (text), or a line saying what it is."""
    c = item.change
    old = _text(cs, c.old_blob) if c.old_blob else None
    new = _text(cs, c.new_blob) if c.new_blob else ""
    if old is False or new is False or c.new_mode == "120000" or c.old_mode == "120000":
        return [tool_content(text_block(f"{item.path}: {item.describe()}"))]
    content = [tool_diff_content(str(user_root / item.path), new, old)]
    if c.old_path:
        content.insert(0, tool_content(text_block(f"renamed from {c.old_path}")))
    return content


def _text(cs, blob: str) -> str | bool:
    data = cs.blob(blob)
    if b"\0" in data[:8000]:
        return False
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return False


def _editor_can_write(w: FileWrite, root: Path) -> bool:
    """A plain text file whose mode the write keeps (the editor cannot chmod)."""
    if w.data is None or w.mode == "120000":
        return False
    try:
        w.data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    dest = root / w.path
    if dest.is_symlink():
        return False
    if not dest.exists():
        return w.mode == "100644"
    return dest.is_file() and (w.mode == "100755") == os.access(dest, os.X_OK)


def _status(item: FileItem, report: ReviewReport) -> str:
    return "completed" if item.path in report.applied else "failed"


def _outcome(item: FileItem, report: ReviewReport) -> str:
    if item.path in report.conflicts:
        return f"not applied: {report.conflicts[item.path]}; it stays pending"
    if item.path in report.applied:
        return "applied to your tree"
    if item.path in report.reverted:
        return "rejected: reverted in ama's copy"
    return "left pending"
