"""write_file: create or overwrite a whole file, atomically."""
from __future__ import annotations

import stat as stat_mod

from pydantic import BaseModel, Field

from tools.base import BaseTool, ToolContext, ToolError, ToolResult
from tools.files import fsops
from tools.files.textio import (DEFAULT_FORMAT, TextFormat, binary_kind, decode, encode,
                                line_stats, plus_minus, to_lf, to_newline)
from tools.paths import relpath, resolve


class WriteFileParams(BaseModel):
    path: str = Field(description="File path, relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")


class WriteFile(BaseTool):
    name = "write_file"
    description = (
        "Create a file, or overwrite one with new content. Parent directories are "
        "created. An existing file keeps its mode, encoding and line-ending style. "
        "Prefer edit_file to change part of an existing file."
    )
    params = WriteFileParams
    mutating = True

    def run(self, args: WriteFileParams, ctx: ToolContext) -> ToolResult:
        path = resolve(ctx.root, args.path)
        rel = relpath(ctx.root, path)
        old_text, fmt = read_existing(ctx.root, path)
        new_text = format_for_existing(args.content, fmt) if old_text is not None else args.content
        try:
            data = encode(new_text, fmt, name=rel)
        except ToolError:  # a latin-1 file given text latin-1 cannot hold: now utf-8
            data = encode(new_text, DEFAULT_FORMAT, name=rel)
        fsops.atomic_write(ctx.root, path, data)
        added, removed = line_stats(to_lf(old_text or ""), to_lf(new_text))
        if old_text is None:
            verb, out = "created", f"Created {rel} ({added} lines)."
        else:
            verb, out = "wrote", f"Overwrote {rel} ({plus_minus(added, removed)} lines)."
        return ToolResult(output=out, summary=f"{verb} {rel} ({plus_minus(added, removed)})",
                          data={"path": rel, "added": added, "removed": removed,
                                "created": old_text is None})


def read_existing(root, path) -> tuple[str | None, TextFormat]:
    """(text, format) of the file at `path`, or (None, default) if there is none.

    A binary file counts as empty text: ("", default format).
    """
    st = fsops.lstat(root, path)
    if st is None:
        return None, DEFAULT_FORMAT
    if stat_mod.S_ISDIR(st.st_mode):
        raise ToolError(f"{relpath(root, path)}: is a directory; give a file path")
    data = fsops.read_bytes(root, path)
    if binary_kind(data) is not None:
        return "", DEFAULT_FORMAT
    return decode(data)


def format_for_existing(content: str, fmt: TextFormat) -> str:
    """Give new content the existing file's line endings, unless it brings its own CRs."""
    if fmt.newline == "\r\n" and "\r" not in content:
        return to_newline(content, "\r\n")
    return content
