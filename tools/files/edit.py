"""edit_file: replace an exact (or tolerantly matched) string in a file."""
from __future__ import annotations

import bisect
import stat as stat_mod

from pydantic import BaseModel, Field

from tools.base import BaseTool, ToolContext, ToolError, ToolResult
from tools.files import fsops
from tools.files.edit_match import find_spans, splice
from tools.files.edit_rungs import Span
from tools.files.textio import (DEFAULT_FORMAT, binary_kind, decode, encode, line_stats,
                                plus_minus, to_lf, to_newline)
from tools.paths import relpath, resolve

SNIPPET_CONTEXT = 3     # lines shown around each replacement
SNIPPET_MAX_EDITS = 3   # replacements shown (replace_all may make many)


class EditFileParams(BaseModel):
    path: str = Field(description="File path, relative to the workspace root.")
    old_string: str = Field(description="The text to replace; must match exactly one "
                                        "place unless replace_all. Empty creates a new file.")
    new_string: str = Field(description="The text to put in its place.")
    replace_all: bool = Field(False, description="Replace every occurrence.")


class EditFile(BaseTool):
    name = "edit_file"
    description = (
        "Replace old_string with new_string in a file. old_string must match one place "
        "(include a few surrounding lines to make it unique) unless replace_all is true. "
        "Small differences in trailing whitespace, indentation, line endings and "
        "typographic quotes/dashes are tolerated. In a long old_string you may write a "
        "line '...' (or '# ...', '// ...') for unchanged lines you leave out; put the same "
        "'...' line at the same place in new_string, and those lines stay as they are. "
        "Edits keep whole lines: a line break at the start or end of old_string that "
        "new_string lacks is kept. An empty old_string creates a new file."
    )
    params = EditFileParams
    mutating = True

    def run(self, args: EditFileParams, ctx: ToolContext) -> ToolResult:
        path = resolve(ctx.root, args.path)
        rel = relpath(ctx.root, path)
        if args.old_string == args.new_string:
            raise ToolError("old_string and new_string are the same; nothing to change")
        st = fsops.lstat(ctx.root, path)
        if st is None:
            if args.old_string:
                raise ToolError(f"{rel}: no such file; to create it, pass an empty "
                                f"old_string or use write_file")
            return _create(ctx, path, rel, args.new_string)
        if stat_mod.S_ISDIR(st.st_mode):
            raise ToolError(f"{rel}: is a directory; give a file path")
        data = fsops.read_bytes(ctx.root, path)
        kind = binary_kind(data)
        if kind is not None:
            raise ToolError(f"{rel}: {kind}; edit_file only edits text files")
        raw, fmt = decode(data)
        if not args.old_string:
            if raw.strip():
                raise ToolError(f"{rel}: already exists and is not empty; give the "
                                f"old_string to replace, or use write_file to overwrite it")
            return _create(ctx, path, rel, args.new_string)
        lf = to_lf(raw)
        rung, spans = find_spans(lf, args.old_string, args.new_string,
                                 replace_all=args.replace_all, name=rel)
        outcome = splice(lf, spans, rung)
        new_raw = splice(raw, to_raw_spans(raw, spans, fmt.newline)).text
        if raw.endswith("\n") and new_raw and not new_raw.endswith("\n"):
            new_raw += fmt.newline  # the file had a final newline: keep it
        fsops.atomic_write(ctx.root, path, encode(new_raw, fmt, name=rel))
        added, removed = line_stats(lf, to_lf(new_raw))
        return ToolResult(
            output=_report(rel, rung, outcome.text, outcome.lines),
            summary=f"edited {rel} ({plus_minus(added, removed)})",
            data={"path": rel, "added": added, "removed": removed, "rung": rung,
                  "replacements": len(spans)})


def to_raw_spans(raw: str, spans: list[Span], newline: str) -> list[Span]:
    """Spans found in the LF form of `raw`, moved onto `raw` itself.

    Only the matched text is replaced, so lines outside the edit keep their own
    endings even in a file that mixes CRLF and LF; replacements get `newline`.
    """
    crlf_at: list[int] = []  # LF-text positions of newlines that were CRLF
    i = raw.find("\r\n")
    while i >= 0:
        crlf_at.append(i - len(crlf_at))
        i = raw.find("\r\n", i + 2)

    def pos(p: int) -> int:
        return p + bisect.bisect_left(crlf_at, p)

    return [Span(pos(s.start), pos(s.end), to_newline(s.replacement, newline)) for s in spans]


def _create(ctx: ToolContext, path, rel: str, content: str) -> ToolResult:
    fsops.atomic_write(ctx.root, path, encode(content, DEFAULT_FORMAT, name=rel))
    added = len(content.splitlines())
    return ToolResult(output=f"Created {rel} ({added} lines).",
                      summary=f"created {rel} (+{added})",
                      data={"path": rel, "added": added, "removed": 0, "created": True})


_RUNG_NOTES = {
    "unicode look-alikes": "matched after folding typographic quotes/dashes/spaces",
    "trailing whitespace": "matched ignoring trailing whitespace",
    "indentation": "matched with shifted indentation; new_string re-indented to fit",
    "leading blank line": "matched without the blank first line of old_string",
    "elided context": "matched piece by piece around the '...' lines, whose lines were "
                      "kept as they are",
}


def _report(rel: str, rung: str, text: str, where: tuple[tuple[int, int], ...]) -> str:
    """What the model reads: what changed, and the edited region numbered."""
    n = len(where)
    head = f"Edited {rel}: {n} replacement{'s' if n != 1 else ''}"
    notes = [_RUNG_NOTES[r] for r in rung.split(" + ") if r in _RUNG_NOTES]
    if notes:
        head += f" ({'; '.join(notes)})"
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    parts = [head + "."]
    for first, last in where[:SNIPPET_MAX_EDITS]:
        lo = max(1, first - SNIPPET_CONTEXT)
        hi = min(len(lines), max(first, last) + SNIPPET_CONTEXT)
        parts.append("\n".join(f"{i:6}\t{lines[i - 1]}" for i in range(lo, hi + 1)))
    if n > SNIPPET_MAX_EDITS:
        parts.append(f"[{n - SNIPPET_MAX_EDITS} more replacements not shown]")
    return parts[0] + ("\n" + "\n...\n".join(parts[1:]) if len(parts) > 1 else "")
