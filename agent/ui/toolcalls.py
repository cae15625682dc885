"""Tool calls, compactly: `● name key-argument`, then `⎿ summary` and a few lines of
output; long output is folded (the REPL's /expand shows it whole)."""
from __future__ import annotations

from typing import Any, Mapping

from rich.text import Text

# The argument that says most about a call, per tool (first present wins).
KEY_ARGS = ("command", "path", "pattern", "args", "query", "url", "description")
PREVIEW_LINES = 6


def key_argument(name: str, arguments: Mapping[str, Any]) -> str:
    """The one argument worth showing for a call, on one line."""
    for k in KEY_ARGS:
        if k in arguments:
            v = arguments[k]
            v = " ".join(map(str, v)) if isinstance(v, list) else str(v)
            return " ".join(v.split("\n")[0].split()) + (" …" if "\n" in v.strip() else "")
    return ""


class OneLine:
    """A Text kept to one line of whatever width it is printed at (cut with "…")."""

    def __init__(self, text: Text):
        self.text = text

    def __rich_console__(self, console, options):
        t = self.text.copy()
        t.truncate(options.max_width, overflow="ellipsis")
        yield t

    def __rich_measure__(self, console, options):   # as wide as its text (for Padding)
        from rich.measure import Measurement
        width = min(self.text.cell_len, options.max_width)
        return Measurement(width, width)


def render_call(name: str, arguments: Mapping[str, Any]) -> OneLine:
    """`● shell  pytest -q` on one line (cut with an ellipsis if too long)."""
    t = Text()
    t.append("● ", style="cyan")
    t.append(name, style="bold")
    arg = key_argument(name, arguments)
    if arg:
        t.append("  " + arg, style="")
    return OneLine(t)


def render_result(output: str, is_error: bool, summary: str = "",
                  data: Mapping[str, Any] | None = None, index: int | None = None,
                  preview_lines: int = PREVIEW_LINES) -> Text:
    """`⎿ summary` plus the first lines of output, folded past `preview_lines`.

    `index`: the output's number for `/expand N` in the fold hint.
    """
    data = data or {}
    failed = is_error or (data.get("exit_code") not in (None, 0))
    lines = output.rstrip("\n").splitlines()
    head = summary or (lines[0] if lines else "(no output)")
    t = Text()
    t.append("  ⎿ ", style="dim")
    t.append(("✗ " if failed else "") + head, style="red" if failed else "green")
    body = [l for l in lines if l.strip()] if summary else lines[1:]
    if body:
        for line in body[:preview_lines]:
            t.append("\n    " + line, style="dim")
        hidden = len(body) - preview_lines
        if hidden > 0:
            where = f" (/expand {index})" if index is not None else ""
            t.append(f"\n    … +{hidden} lines{where}", style="dim italic")
    return t
