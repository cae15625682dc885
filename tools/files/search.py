"""list_files and grep: ripgrep on the host, against the workspace.

rg runs with `--no-config` (no user config can add flags), `--hidden` but never
inside `.git`, `.gitignore` honoured even outside a git repository, ignore files
above the workspace disregarded, symlinks not followed. Every user-given value is
passed as `--flag=value` or after `--`, so none can be read as an option.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from pydantic import BaseModel, Field

from tools.base import BaseTool, ToolContext, ToolError, ToolResult
from tools.paths import relpath, resolve

MAX_FILES = 1000
MAX_MATCHES = 500
MAX_OUTPUT_CHARS = 50_000
MAX_COLUMNS = 500
TIMEOUT = 30.0

_COMMON = ["--no-config", "--hidden", "--glob=!.git", "--no-require-git", "--no-ignore-global",
           "--no-ignore-parent", "--color=never"]


class ListFilesParams(BaseModel):
    path: str = Field(".", description="Directory to list, relative to the workspace root.")
    pattern: str | None = Field(None, description="Glob the paths must match, e.g. '*.py' "
                                                  "or 'src/**/*.ts' (relative to the root).")


class ListFiles(BaseTool):
    name = "list_files"
    description = (
        "List files under a directory, recursively, sorted; files ignored by .gitignore "
        "are left out. `pattern` is a glob filter. At most 1000 paths are shown."
    )
    params = ListFilesParams
    mutating = False

    def __init__(self, *, max_files: int = MAX_FILES):
        self.max_files = max_files  # paths shown at most; the rest are counted

    def run(self, args: ListFilesParams, ctx: ToolContext) -> ToolResult:
        target = _target(ctx.root, args.path)
        cmd = [*_COMMON, "--files"]
        if args.pattern:
            cmd.append(f"--glob={args.pattern}")
        cmd += ["--", target]
        code, lines, total, err = _run_rg(ctx, cmd, limit=None)
        if code == 2 and not lines:
            raise ToolError(f"list_files: {err.strip() or 'ripgrep failed'}")
        paths = sorted(_clean(p) for p in lines)
        shown = paths[:self.max_files]
        where = "" if target == "." else f" under {target}"
        if not shown:
            out = f"no files{where}" + (f" match {args.pattern!r}" if args.pattern else "")
            return ToolResult(output=out, summary=f"listed {target} (0 files)")
        out = "\n".join(shown)
        if len(paths) > len(shown):
            out += (f"\n[{len(paths) - len(shown)} more files not shown; narrow it with "
                    f"path or pattern]")
        if code is None:
            out += "\n[listing stopped early (time limit or interrupt); it is incomplete]"
        return ToolResult(output=out, summary=f"listed {target} ({len(paths)} files)",
                          data={"count": len(paths)})


class GrepParams(BaseModel):
    pattern: str = Field(description="Regular expression (Rust regex syntax, as ripgrep).")
    path: str = Field(".", description="File or directory to search, relative to the root.")
    glob: str | None = Field(None, description="Only search files matching this glob, "
                                               "e.g. '*.py'.")
    ignore_case: bool = Field(False, description="Match case-insensitively.")


class Grep(BaseTool):
    name = "grep"
    description = (
        "Search file contents with a regular expression (ripgrep). Returns matching "
        "lines as path:line:text, sorted by path; files ignored by .gitignore are "
        "skipped. At most 500 matches are shown."
    )
    params = GrepParams
    mutating = False

    def __init__(self, *, max_matches: int = MAX_MATCHES):
        self.max_matches = max_matches  # matching lines shown at most; the rest are counted

    def run(self, args: GrepParams, ctx: ToolContext) -> ToolResult:
        if not args.pattern:
            raise ToolError("grep: pattern is empty")
        target = _target(ctx.root, args.path)
        cmd = [*_COMMON, "--line-number", "--with-filename", "--no-heading", "--sort=path",
               f"--max-columns={MAX_COLUMNS}", "--max-columns-preview"]
        if args.ignore_case:
            cmd.append("--ignore-case")
        if args.glob:
            cmd.append(f"--glob={args.glob}")
        cmd += [f"--regexp={args.pattern}", "--", target]
        code, lines, total, err = _run_rg(ctx, cmd, limit=self.max_matches)
        if code == 2 and not lines:
            raise ToolError(f"grep: {err.strip() or 'ripgrep failed'}")
        if not lines:
            return ToolResult(output="no matches", summary=f"grep {args.pattern!r}: no matches",
                              data={"count": 0})
        shown, size = [], 0
        for ln in lines:
            ln = _clean(ln)
            if size + len(ln) > MAX_OUTPUT_CHARS:
                break
            shown.append(ln)
            size += len(ln) + 1
        out = "\n".join(shown)
        if total > len(shown):
            out += (f"\n[{total - len(shown)} more matches not shown; narrow the pattern, "
                    f"path or glob]")
        if code is None:
            out += "\n[search stopped early (time limit or interrupt); results are incomplete]"
        if code == 2 and err.strip():
            out += f"\n[rg: {err.strip().splitlines()[0]}]"
        return ToolResult(output=out, summary=f"grep {args.pattern!r}: {total} matches",
                          data={"count": total})


def _target(root: Path, path: str) -> str:
    """The workspace-relative path rg is given (checked by `resolve`)."""
    host = resolve(root, path, must_exist=True)
    return relpath(root, host)


def _clean(line: str) -> str:
    return line[2:] if line.startswith("./") else line


def rg_binary() -> str:
    """The ripgrep binary: the one the `ripgrep` wheel put beside this Python, else PATH."""
    here = Path(sys.executable).parent / "rg"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("rg")
    if found is None:
        raise ToolError("ripgrep (rg) is not installed on the host; install the "
                        "'ripgrep' package")
    return found


def _run_rg(ctx: ToolContext, args: list[str], *, limit: int | None
            ) -> tuple[int | None, list[str], int, str]:
    """Run rg in the workspace; keep the first `limit` output lines, count the rest.

    Returns (exit code or None if stopped at the timeout/cancel, kept lines,
    total line count, stderr).
    """
    proc = subprocess.Popen([rg_binary(), *args], cwd=os.path.realpath(ctx.root),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env())
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()),
                              daemon=True)
    reader.start()
    stop = threading.Event()
    timer = threading.Timer(TIMEOUT, lambda: (stop.set(), proc.kill()))
    timer.start()
    kept: list[str] = []
    total = 0
    try:
        for raw in proc.stdout:
            total += 1
            if limit is None or len(kept) < limit:
                kept.append(raw.decode("utf-8", "replace").rstrip("\n"))
            if ctx.cancel.is_set():
                stop.set()
                proc.kill()
                break
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    err = b"".join(err_chunks).decode("utf-8", "replace")
    if stop.is_set():
        if not kept:
            raise ToolError(f"ripgrep stopped after {TIMEOUT:g}s with nothing found; "
                            f"narrow the path or glob")
        return None, kept, total, err
    return proc.returncode, kept, total, err


def _env() -> dict[str, str]:
    # No RIPGREP_CONFIG_PATH or other host settings: only what rg needs to run.
    return {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
