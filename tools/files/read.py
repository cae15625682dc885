"""read_file: a window of a text file as numbered lines."""
from __future__ import annotations

import stat as stat_mod

from pydantic import BaseModel, Field

from tools.base import BaseTool, ToolContext, ToolError, ToolResult
from tools.files import fsops
from tools.files.textio import SNIFF_BYTES, binary_kind, decode, split_lines
from tools.paths import relpath, resolve

MAX_LINE_CHARS = 2000      # a longer line is cut (minified code, data blobs)
MAX_OUTPUT_CHARS = 100_000  # stop the window early past this, with a note
WHOLE_FILE_BYTES = 16 * 1024 * 1024  # above this, stream lines instead of decoding it all
LINE_READ = 1 << 22  # bytes read at a time while streaming lines


class ReadFileParams(BaseModel):
    path: str = Field(description="File path, relative to the workspace root.")
    offset: int = Field(1, ge=1, description="First line to show (1-based).")
    limit: int = Field(2000, ge=1, description="Most lines to show.")


class ReadFile(BaseTool):
    name = "read_file"
    description = (
        "Read a text file. Returns numbered lines (`cat -n` style: number, tab, text) "
        "from `offset` (1-based), at most `limit` lines, with a note when more remain. "
        "Binary files are described, not shown. Use list_files for directories."
    )
    params = ReadFileParams
    mutating = False

    def __init__(self, *, whole_file_bytes: int = WHOLE_FILE_BYTES, line_read: int = LINE_READ):
        """whole_file_bytes: files up to this size are decoded whole, larger ones
        streamed line by line, `line_read` bytes at a time."""
        self.whole_file_bytes = whole_file_bytes
        self.line_read = line_read

    def run(self, args: ReadFileParams, ctx: ToolContext) -> ToolResult:
        path = resolve(ctx.root, args.path, must_exist=True)
        rel = relpath(ctx.root, path)
        st = fsops.lstat(ctx.root, path)
        if st is None:
            raise ToolError(f"{args.path}: no such file")
        if stat_mod.S_ISDIR(st.st_mode):
            raise ToolError(f"{rel}: is a directory; use list_files to see what it holds")
        with fsops.open_read(ctx.root, path) as f:
            head = f.read(SNIFF_BYTES)
            kind = binary_kind(head)
            if kind is not None:
                return ToolResult(
                    output=f"{rel}: {kind}, {st.st_size:,} bytes; not shown (binary file).",
                    summary=f"read {rel} (binary)")
            if st.st_size <= self.whole_file_bytes:
                text, _ = decode(head + f.read())
                lines = split_lines(text)
                total: int | None = len(lines)
            else:
                lines, total = _stream_lines(f, args.offset - 1 + args.limit, self.line_read)
        body, shown_to, capped = format_lines(lines, args.offset, args.limit)
        if args.offset > 1 and args.offset > len(lines):  # then `lines` is the whole file
            raise ToolError(f"{rel}: offset {args.offset} is past the end of the file "
                            f"({len(lines)} lines)")
        if not lines:
            return ToolResult(output=f"{rel}: (empty file)", summary=f"read {rel} (empty)")
        notes = []
        more = total is None or shown_to < total
        if capped:
            notes.append(f"output capped at {MAX_OUTPUT_CHARS:,} characters")
        if more:
            of = f" of {total}" if total is not None else f" of a {st.st_size:,}-byte file"
            notes.append(f"showing lines {args.offset}–{shown_to}{of}; "
                         f"continue with offset={shown_to + 1}")
        output = body + (f"\n[{'; '.join(notes)}]" if notes else "")
        return ToolResult(output=output, summary=f"read {rel} (lines {args.offset}–{shown_to})",
                          data={"path": rel, "first_line": args.offset, "last_line": shown_to,
                                "total_lines": total})


def format_lines(lines: list[str], offset: int, limit: int) -> tuple[str, int, bool]:
    """Number lines[offset-1 : offset-1+limit] like `cat -n`.

    Returns (text, number of the last line shown, whether the character cap stopped it).
    """
    out: list[str] = []
    size = 0
    last = offset - 1
    for n in range(offset, min(len(lines), offset - 1 + limit) + 1):
        line = lines[n - 1]
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f" [... line cut: {len(line):,} characters]"
        entry = f"{n:6}\t{line}"
        if size + len(entry) > MAX_OUTPUT_CHARS and out:
            return "\n".join(out), last, True
        out.append(entry)
        size += len(entry) + 1
        last = n
    return "\n".join(out), last, False


def _stream_lines(f, upto: int, chunk: int = LINE_READ) -> tuple[list[str], int | None]:
    """Decode only the first `upto` lines of a very large file (utf-8, errors replaced),
    reading at most `chunk` bytes at a time.

    Returns (lines, total) where total is None if the file has more lines.
    """
    f.seek(0)
    lines: list[str] = []
    while len(lines) < upto:
        raw = f.readline(chunk)
        if not raw:
            return lines, len(lines)
        if len(raw) == chunk and not raw.endswith(b"\n"):
            # one enormous line: keep its start, drop the rest of it unread
            raw = raw[:4 * MAX_LINE_CHARS]
            while (rest := f.readline(chunk)) and not rest.endswith(b"\n"):
                pass
        lines.append(raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace"))
    return lines, (None if f.read(1) else len(lines))
