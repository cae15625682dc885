"""Parse a patch into per-file operations. Pure.

Two formats are read:
- unified diff, as `diff -u` and `git diff` write it: `--- a/x` / `+++ b/x`, `@@`
  hunks, `/dev/null` for added and deleted files, and git's extended headers
  (`rename from/to`, `new file mode`, `deleted file mode`, `old/new mode`);
- the Codex envelope: `*** Begin Patch`, `*** Add File: p` (lines prefixed `+`),
  `*** Delete File: p`, `*** Update File: p` with an optional `*** Move to: q` and
  hunks that start with `@@` or `@@ some line to anchor on`, `*** End of File`,
  and `*** End Patch`.

Hunk line counts in `@@ -a,b +c,d @@` are hints, not law: models miscount, so a hunk
runs until the next hunk or file header.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
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


def parse_patch(text: str) -> list[FilePatch]:
    """Parse either format. Raises PatchError naming the offending line."""
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    if lines and lines[-1] == "":  # the piece after the final newline is not a line
        lines.pop()
    if any(ln.strip() == "*** Begin Patch" for ln in lines):
        patches = parse_envelope(lines)
    elif any(ln.startswith(("--- ", "+++ ", "diff --git ", "@@ ")) for ln in lines):
        patches = parse_unified(lines)
    else:
        raise PatchError("unrecognized patch: give a unified diff (--- a/x, +++ b/x, @@ "
                         "hunks) or a '*** Begin Patch' ... '*** End Patch' envelope")
    if not patches:
        raise PatchError("the patch holds no file changes")
    return patches


# --- the Codex envelope -------------------------------------------------------------------

_ENV_FILE = re.compile(r"^\*\*\* (Add|Delete|Update) File: (.+)$")


def parse_envelope(lines: list[str]) -> list[FilePatch]:
    i = next(n for n, ln in enumerate(lines) if ln.strip() == "*** Begin Patch") + 1
    out: list[FilePatch] = []
    while True:
        if i >= len(lines):
            raise PatchError("the patch ends without '*** End Patch' (was it cut off?)")
        line = lines[i]
        if line.strip() == "*** End Patch":
            return out
        if not line.strip():
            i += 1
            continue
        m = _ENV_FILE.match(line.strip())
        if not m:
            raise PatchError(f"patch line {i + 1}: expected '*** Add File:', '*** Delete "
                             f"File:', '*** Update File:' or '*** End Patch', got {line!r}")
        kind, path = m.group(1), m.group(2).strip()
        i += 1
        if kind == "Delete":
            out.append(FilePatch("delete", path))
        elif kind == "Add":
            body: list[str] = []
            while i < len(lines) and not lines[i].startswith("***"):
                ln = lines[i]
                if ln.startswith("+"):
                    body.append(ln[1:])
                elif ln.strip():
                    raise PatchError(f"patch line {i + 1}: in '*** Add File: {path}' every "
                                     f"line must start with '+', got {ln!r}")
                else:
                    body.append("")
                i += 1
            while body and body[-1] == "":  # blank lines before the next header
                body.pop()
            out.append(FilePatch("add", path, content="".join(b + "\n" for b in body)))
        else:
            move_to = None
            if i < len(lines) and lines[i].startswith("*** Move to:"):
                move_to = lines[i][len("*** Move to:"):].strip()
                i += 1
            hunks, i = _envelope_hunks(lines, i, path)
            if not hunks and move_to is None:
                raise PatchError(f"'*** Update File: {path}' has no hunks")
            out.append(FilePatch("update", path, hunks=tuple(hunks), move_to=move_to))


def _envelope_hunks(lines: list[str], i: int, path: str) -> tuple[list[Hunk], int]:
    hunks: list[Hunk] = []
    cur: list[tuple[str, str]] | None = None
    header, anchor = "@@", None

    def close(at_eof: bool = False) -> None:
        nonlocal cur
        if cur is not None:
            if not any(tag != " " for tag, _ in cur):
                raise PatchError(f"{path}: hunk {len(hunks) + 1} ({header}) changes nothing")
            hunks.append(Hunk(tuple(cur), header=header, anchor=anchor, at_eof=at_eof))
        cur = None

    while i < len(lines):
        ln = lines[i]
        if ln.strip() == "*** End of File":
            close(at_eof=True)
            i += 1
            continue
        if ln.startswith("***"):
            break
        if ln.startswith("@@"):
            close()
            header = ln.strip()
            anchor = ln[2:].strip() or None
            cur = []
        elif ln[:1] in (" ", "-", "+") or ln == "":
            if cur is None:  # the first hunk may leave out its @@
                header, anchor, cur = f"hunk {len(hunks) + 1}", None, []
            cur.append((ln[:1] or " ", ln[1:]))
        else:
            raise PatchError(f"patch line {i + 1}: in '*** Update File: {path}' a hunk line "
                             f"must start with ' ', '-', '+' or '@@', got {ln!r}")
        i += 1
    if cur is not None:
        while cur and cur[-1] == (" ", ""):  # blank lines before the next header
            cur.pop()
    close()
    return hunks, i


# --- unified diff -------------------------------------------------------------------------

_HUNK = re.compile(r"^@@+ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@+(.*)$")
_MODE = re.compile(r"^(old mode|new mode|new file mode|deleted file mode) ([0-7]+)\s*$")


@dataclass
class _Section:
    """A file's part of a unified diff while it is being read."""

    git_paths: tuple[str, str] | None = None
    headers: tuple[str | None, str | None] | None = None  # the ---/+++ paths, raw
    rename_from: str | None = None
    rename_to: str | None = None
    new_file: bool = False
    deleted: bool = False
    new_mode: int | None = None
    hunks: list[Hunk] = field(default_factory=list)
    line: int = 0


def parse_unified(lines: list[str]) -> list[FilePatch]:
    sections: list[_Section] = []
    cur: _Section | None = None
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("diff --git "):
            cur = _Section(git_paths=_git_header_paths(ln[len("diff --git "):]), line=i + 1)
            sections.append(cur)
        elif ln.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if cur is None or cur.headers is not None or cur.hunks:
                cur = _Section(line=i + 1)
                sections.append(cur)
            cur.headers = (_header_path(ln[4:]), _header_path(lines[i + 1][4:]))
            i += 1
        elif ln.startswith("@@"):
            if cur is None:
                raise PatchError(f"patch line {i + 1}: hunk before any '--- a/x' / '+++ b/x' "
                                 f"file header")
            hunk, i = _unified_hunk(lines, i)
            cur.hunks.append(hunk)
            continue
        elif cur is not None and (m := _MODE.match(ln)):
            kind, mode = m.group(1), int(m.group(2), 8) & 0o777
            cur.new_file |= kind == "new file mode"
            cur.deleted |= kind == "deleted file mode"
            if kind in ("new mode", "new file mode"):
                cur.new_mode = mode
        elif cur is not None and ln.startswith("rename from "):
            cur.rename_from = _unquote(ln[len("rename from "):])
        elif cur is not None and ln.startswith("rename to "):
            cur.rename_to = _unquote(ln[len("rename to "):])
        elif ln.startswith(("GIT binary patch", "Binary files ")):
            raise PatchError(f"patch line {i + 1}: binary patches are not supported")
        elif ln.startswith(("copy from ", "copy to ")):
            raise PatchError(f"patch line {i + 1}: copies are not supported; add the new "
                             f"file instead")
        i += 1
    return [_to_file_patch(s) for s in sections if _has_content(s)]


def _has_content(s: _Section) -> bool:
    return bool(s.hunks or s.headers or s.rename_to or s.new_file or s.deleted
                or s.new_mode is not None)


def _to_file_patch(s: _Section) -> FilePatch:
    raw_old, raw_new = s.headers or s.git_paths or (None, None)
    old, new = _strip_prefix(raw_old, "a/"), _strip_prefix(raw_new, "b/")
    where = f"patch line {s.line}"
    if old is None and new is None:
        raise PatchError(f"{where}: cannot tell which file this part changes (no "
                         f"'--- a/x' / '+++ b/x' lines)")
    if s.new_file or old is None:
        if new is None:
            raise PatchError(f"{where}: cannot tell which file to create")
        if any(tag == "-" or tag == " " for h in s.hunks for tag, _ in h.lines):
            raise PatchError(f"{where}: the new file {new} has context or removed lines")
        body = [t for h in s.hunks for _, t in h.lines]
        content = "".join(b + "\n" for b in body)
        if s.hunks and s.hunks[-1].new_no_newline and content:
            content = content[:-1]
        return FilePatch("add", new, content=content, new_mode=s.new_mode)
    if s.deleted or new is None:
        return FilePatch("delete", old)
    if s.rename_from or s.rename_to:
        src = s.rename_from or old
        dst = s.rename_to or new
        return FilePatch("update", src, hunks=tuple(s.hunks), move_to=dst,
                         new_mode=s.new_mode)
    move_to = new if (new != old and raw_old.startswith("a/")
                      and raw_new.startswith("b/")) else None
    path = old if move_to else new  # plain `diff -u x.orig x` targets the new name
    if not s.hunks and move_to is None and s.new_mode is None:
        raise PatchError(f"{where}: no hunks for {path}")
    return FilePatch("update", path, hunks=tuple(s.hunks), move_to=move_to,
                     new_mode=s.new_mode)


def _unified_hunk(lines: list[str], i: int) -> tuple[Hunk, int]:
    """Read the hunk whose `@@` line is lines[i]; return it and the index after it."""
    head, start = lines[i], i
    m = _HUNK.match(head)
    if m:
        old_start = int(m.group(1))
        old_n = int(m.group(2)) if m.group(2) is not None else 1
        new_n = int(m.group(4)) if m.group(4) is not None else 1
        header = head[:head.index("@@", 2) + 2]
    elif not head.startswith("@@ -"):  # a bare "@@": no counts, runs to the next header
        old_start, old_n, new_n, header = None, None, None, head.strip()
    else:
        raise PatchError(f"patch line {i + 1}: bad hunk header {head!r}")
    body: list[tuple[str, str]] = []
    flags = {"old": False, "new": False}
    seen_old = seen_new = 0
    i += 1
    while i < len(lines):
        ln = lines[i]
        # past the counted lines, a blank line or a ---/+++ pair ends the hunk
        counted = old_n is None or (seen_old >= old_n and seen_new >= new_n)
        blank_is_context = old_n is None or not counted
        if ln.startswith("\\"):  # "\ No newline at end of file"
            if body:
                tag = body[-1][0]
                flags["old"] |= tag in " -"
                flags["new"] |= tag in " +"
            i += 1
            continue
        if ln.startswith("@@") or ln.startswith("diff --git "):
            break
        if ln.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ") \
                and counted:
            break
        if ln[:1] in (" ", "-", "+"):
            tag, text = ln[0], ln[1:]
        elif ln == "" and blank_is_context:
            tag, text = " ", ""  # an editor stripped the context line's space
        else:
            break
        body.append((tag, text))
        seen_old += tag != "+"
        seen_new += tag != "-"
        i += 1
    while body and body[-1] == (" ", "") and (old_n is None or seen_old > old_n):
        body.pop()
        seen_old -= 1
    if not any(tag != " " for tag, _ in body):
        raise PatchError(f"patch line {start + 1}: hunk {header!r} has no '-' or '+' lines")
    return Hunk(tuple(body), header=header, old_start=old_start,
                old_no_newline=flags["old"], new_no_newline=flags["new"]), i


def _header_path(raw: str) -> str | None:
    """The path in a `---`/`+++` line: no timestamp, unquoted; None for /dev/null."""
    raw = raw.rstrip()
    if not raw.startswith('"') and "\t" in raw:
        raw = raw.split("\t", 1)[0]
    path = _unquote(raw)
    return None if path == "/dev/null" else path


def _git_header_paths(rest: str) -> tuple[str, str] | None:
    """The two paths of `diff --git a/x b/x` (used when there is no ---/+++ pair)."""
    if rest.startswith('"'):
        m = re.match(r'^("(?:[^"\\]|\\.)*")\s+(.+)$', rest)
        return (_unquote(m.group(1)), _unquote(m.group(2))) if m else None
    # Unquoted paths may hold spaces; git's own rule: the two halves are the same name.
    half = len(rest) // 2
    if len(rest) > 2 and rest[half] == " " and rest[:half][2:] == rest[half + 1:][2:]:
        return rest[:half], rest[half + 1:]
    parts = rest.split(" b/", 1)
    return (parts[0], "b/" + parts[1]) if len(parts) == 2 else None


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        body = s[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        try:
            return body.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return body
    return s


def _strip_prefix(path: str | None, prefix: str) -> str | None:
    if path is not None and path.startswith(prefix) and len(path) > len(prefix):
        return path[len(prefix):]
    return path
