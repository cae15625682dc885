"""A parsed patch: what to do to each file, hunk by hunk, and the error for a bad patch.

Both patch formats (see patch_parse) read into these values; patch_apply plans them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tools.base import ToolError


class PatchError(ToolError):
    """The patch could not be parsed or applied; the message says where and why."""


@dataclass(frozen=True)
class Hunk:
    """One hunk.

    lines:     (tag, text) with tag " " (context), "-" (removed) or "+" (added).
    header:    how to name the hunk in messages ("@@ -10,4 +10,5 @@", "@@ def f():").
    anchor:    Codex `@@ line`: the hunk sits after the first line matching it.
    old_start: unified `-a`: 1-based line where the old lines begin (a hint).
    at_eof:    Codex `*** End of File`: the hunk ends at the end of the file.
    old_no_newline / new_no_newline: `\\ No newline at end of file` followed the
               hunk's last old-side / new-side line.
    """

    lines: tuple[tuple[str, str], ...]
    header: str = "@@"
    anchor: str | None = None
    old_start: int | None = None
    at_eof: bool = False
    old_no_newline: bool = False
    new_no_newline: bool = False

    @property
    def old(self) -> list[str]:
        return [t for tag, t in self.lines if tag != "+"]

    @property
    def new(self) -> list[str]:
        return [t for tag, t in self.lines if tag != "-"]


@dataclass(frozen=True)
class FilePatch:
    """What to do to one file.

    op:       "add" (content is the whole new file), "delete", or "update" (hunks,
              possibly none when only moving or changing mode).
    path:     the file as the patch names it (relative to the workspace).
    move_to:  the new path for a rename / `*** Move to:`.
    new_mode: permission bits from git's `new file mode` / `new mode` (e.g. 0o755).
    """

    op: Literal["add", "delete", "update"]
    path: str
    hunks: tuple[Hunk, ...] = ()
    content: str = ""
    move_to: str | None = None
    new_mode: int | None = None
