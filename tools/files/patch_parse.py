"""Parse a patch into per-file operations. Pure.

Two formats are read:
- unified diff, as `diff -u` and `git diff` write it: `--- a/x` / `+++ b/x`, `@@`
  hunks, `/dev/null` for added and deleted files, and git's extended headers
  (`rename from/to`, `new file mode`, `deleted file mode`, `old/new mode`);
- the Codex envelope (`*** Begin Patch` ... `*** End Patch`), read by patch_envelope.

Hunk line counts in `@@ -a,b +c,d @@` are hints, not law: models miscount, so a hunk
runs until the next hunk or file header.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.files.patch_envelope import parse_envelope
from tools.files.patch_ops import FilePatch, Hunk, PatchError


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


# --- unified diff -------------------------------------------------------------------------

# Counts past 12 digits are no line numbers (and int() refuses a few thousand digits).
_HUNK = re.compile(r"^@@+ -(\d{1,12})(?:,(\d{1,12}))? \+(\d{1,12})(?:,(\d{1,12}))? @@+(.*)$")
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
            cur = _Section(git_paths=_git_header_paths(ln[len("diff --git "):], i + 1),
                           line=i + 1)
            sections.append(cur)
        elif ln.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if cur is None or cur.headers is not None or cur.hunks:
                cur = _Section(line=i + 1)
                sections.append(cur)
            cur.headers = (_header_path(ln[4:], i + 1), _header_path(lines[i + 1][4:], i + 2))
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
            cur.rename_from = _unquote(ln[len("rename from "):], i + 1)
        elif cur is not None and ln.startswith("rename to "):
            cur.rename_to = _unquote(ln[len("rename to "):], i + 1)
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


def _header_path(raw: str, line: int) -> str | None:
    """The path in a `---`/`+++` line: no timestamp, unquoted; None for /dev/null."""
    raw = raw.rstrip()
    if raw.startswith('"'):
        quoted = _QUOTED.match(raw)  # a timestamp may follow the closing quote
        raw = quoted.group(0) if quoted else raw
    elif "\t" in raw:
        raw = raw.split("\t", 1)[0]
    path = _unquote(raw, line)
    return None if path == "/dev/null" else path


def _git_header_paths(rest: str, line: int) -> tuple[str, str] | None:
    """The two paths of `diff --git a/x b/x` (used when there is no ---/+++ pair)."""
    if rest.startswith('"'):
        m = re.match(_QUOTED.pattern + r"\s+(.+)$", rest)
        return (_unquote(m.group(1), line), _unquote(m.group(2), line)) if m else None
    # Unquoted paths may hold spaces; git's own rule: the two halves are the same name.
    half = len(rest) // 2
    if len(rest) > 2 and rest[half] == " " and rest[:half][2:] == rest[half + 1:][2:]:
        return rest[:half], rest[half + 1:]
    parts = rest.split(" b/", 1)
    return (parts[0], "b/" + parts[1]) if len(parts) == 2 else None


# git's C-style quoting of paths: these escapes, and \ooo octal for other bytes
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_OCTAL = re.compile(r"[0-3][0-7]{2}")
_QUOTED = re.compile(r'^("(?:[^"\\]|\\.)*")')


def _unquote(s: str, line: int) -> str:
    """A path as git writes it in patch line `line`: in double quotes with C escapes
    (UTF-8 bytes as octal, `\\303\\251`), or plain. PatchError for a bad quoting."""
    s = s.strip()
    if not (len(s) >= 2 and s[0] == s[-1] == '"'):
        return s
    body, out, i = s[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogatepass")
            i += 1
        elif body[i + 1:i + 2] in _ESCAPES:
            out.append(_ESCAPES[body[i + 1]])
            i += 2
        elif _OCTAL.fullmatch(body[i + 1:i + 4]):
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
        else:
            raise PatchError(f"patch line {line}: bad escape {body[i:i + 4]!r} in the quoted "
                             f"path {s}; quote a path as git does (\\\\, \\\", \\t, \\n, "
                             f"octal \\ooo for other bytes) or give it unquoted")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError(f"patch line {line}: the quoted path {s} is not UTF-8 once its "
                         f"escapes are read; give the path as UTF-8") from None


def _strip_prefix(path: str | None, prefix: str) -> str | None:
    if path is not None and path.startswith(prefix) and len(path) > len(prefix):
        return path[len(prefix):]
    return path
