"""Read the Codex patch envelope into per-file operations. Pure.

`*** Begin Patch`, then `*** Add File: p` (lines prefixed `+`), `*** Delete File: p`,
or `*** Update File: p` with an optional `*** Move to: q` and hunks that start with
`@@` or `@@ some line to anchor on`, `*** End of File`, and `*** End Patch`. A marker is
known by its text once stripped, at every level: padding never turns one into a line
of a hunk (so a file line that reads like a marker cannot be context in this format).
"""
from __future__ import annotations

import re

from tools.files.patch_ops import FilePatch, Hunk, PatchError


_ENV_FILE = re.compile(r"^\*\*\* (Add|Delete|Update) File: (.+)$")
# Envelope markers, told by their text once stripped, wherever they stand: a padded
# ` *** End Patch` after a hunk is the end of the patch, not a context line.
_MARKER = re.compile(r"^\*\*\* (?:Begin Patch|End Patch|End of File|Move to:.*"
                     r"|(?:Add|Delete|Update) File: .+)$")


def _is_marker(line: str) -> bool:
    """Whether `line` is an envelope marker (`*** End Patch`, `*** Update File: p`, ...)."""
    return _MARKER.match(line.strip()) is not None


def _ends_section(line: str) -> bool:
    """Whether `line` ends an Add File body or an Update File's hunks."""
    return line.startswith("***") or _is_marker(line)


def parse_envelope(lines: list[str]) -> list[FilePatch]:
    begin = next(n for n, ln in enumerate(lines) if ln.strip() == "*** Begin Patch")
    i = begin + 1
    out: list[FilePatch] = []
    while True:
        if i >= len(lines):
            raise PatchError(_missing_end(lines, begin))
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
            content, i = _envelope_add(lines, i, path)
            out.append(FilePatch("add", path, content=content))
        else:
            move_to = None
            if i < len(lines) and lines[i].strip().startswith("*** Move to:"):
                move_to = lines[i].strip()[len("*** Move to:"):].strip()
                if not move_to:
                    raise PatchError(f"patch line {i + 1}: '*** Move to:' names no path; "
                                     f"give the new path after it")
                i += 1
            hunks, i = _envelope_hunks(lines, i, path)
            if not hunks and move_to is None:
                raise PatchError(f"'*** Update File: {path}' has no hunks")
            out.append(FilePatch("update", path, hunks=tuple(hunks), move_to=move_to))


def _missing_end(lines: list[str], begin: int) -> str:
    """Why the envelope opened at lines[begin] has no end: a line that was meant as a
    marker but is none (so it was read as a hunk line), or the patch was cut off."""
    msg = "the patch ends without '*** End Patch'"
    suspects = [n for n in range(begin + 1, len(lines))
                if lines[n].strip().startswith("***") and not _is_marker(lines[n])]
    if suspects:
        n = suspects[-1]
        return (f"{msg}: patch line {n + 1}, {lines[n]!r}, is no envelope marker, so it was "
                f"read as part of a hunk. Markers are '*** Add File: p', '*** Delete File: "
                f"p', '*** Update File: p', '*** Move to: p', '*** End of File' and '*** End "
                f"Patch'; fix that line")
    return (f"{msg} (was it cut off after patch line {len(lines)}?); send the whole patch, "
            f"its last line '*** End Patch'")


def _envelope_add(lines: list[str], i: int, path: str) -> tuple[str, int]:
    """The content of `*** Add File: path` whose first body line is lines[i], and the
    index after the body."""
    body: list[str] = []
    while i < len(lines) and not _ends_section(lines[i]):
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
    return "".join(b + "\n" for b in body), i


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
        if _ends_section(ln):
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
