"""Coloured unified diffs with word-level highlighting of changed lines.

Each line is a row of a two-column grid (line numbers | content), so a very long line
folds under its own column instead of breaking the layout, and wide characters
(CJK, emoji) are measured in cells by rich. Removed/added runs are paired line by
line and the words that differ get a stronger background.
"""
from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tools.workspace.hunks import Hunk, word_spans
from tools.workspace.review import FileItem

DEL, ADD = "red", "green"
DEL_WORD, ADD_WORD = "bold white on red", "bold black on green"


def _pairs(lines: list[str]) -> dict[int, int]:
    """Map each '-' line index to the '+' line it pairs with (runs of - then +)."""
    pairs: dict[int, int] = {}
    i = 0
    while i < len(lines):
        if lines[i].startswith("-"):
            j = i
            while j < len(lines) and lines[j].startswith("-"):
                j += 1
            k = j
            while k < len(lines) and lines[k].startswith("+"):
                k += 1
            for n in range(min(j - i, k - j)):
                pairs[i + n] = j + n
            i = k
        else:
            i += 1
    return pairs


def _content(line: str, style: str, spans: list[tuple[int, int]], word_style: str) -> Text:
    body = line[1:].rstrip("\n").expandtabs(4)
    t = Text(line[0] + body, style=style, overflow="fold")
    for a, b in spans:
        t.stylize(word_style, 1 + a, 1 + b)
    return t


def render_hunk(h: Hunk, title: str = "") -> RenderableType:
    """One hunk: a header line, then numbered, coloured lines."""
    lines = list(h.lines)
    pairs = _pairs(lines)
    spans: dict[int, list[tuple[int, int]]] = {}
    for i, j in pairs.items():
        old, new = lines[i][1:].rstrip("\n").expandtabs(4), lines[j][1:].rstrip("\n").expandtabs(4)
        a, b = word_spans(old, new)
        # Whole-line rewrites read better without word highlights.
        if sum(y - x for x, y in a) < 0.7 * max(len(old), 1):
            spans[i], spans[j] = a, b
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="dim")
    grid.add_column(overflow="fold", ratio=1)
    old_no, new_no = h.old_start + 1, h.new_start + 1
    for i, line in enumerate(lines):
        sign = line[:1]
        if sign == "-":
            grid.add_row(f"{old_no:>4}     ", _content(line, DEL, spans.get(i, []), DEL_WORD))
            old_no += 1
        elif sign == "+":
            grid.add_row(f"     {new_no:>4}", _content(line, ADD, spans.get(i, []), ADD_WORD))
            new_no += 1
        else:
            grid.add_row(f"{old_no:>4} {new_no:>4}", _content(line, "", [], ""))
            old_no += 1
            new_no += 1
        if not line.endswith("\n"):
            grid.add_row("", Text("\\ No newline at end of file", style="dim"))
    head = Text(h.header, style="cyan")
    if title:
        head = Text.assemble((title + "  ", "bold"), head)
    return Group(head, grid)


def render_file_header(item: FileItem) -> Text:
    c = item.change
    t = Text()
    t.append(c.path, style="bold")
    t.append(f"  +{c.additions}", style=ADD)
    t.append(f" −{c.deletions}", style=DEL)
    if item.whole_file:
        t.append(f"  ({item.describe()})", style="yellow")
    return t


def render_item(item: FileItem) -> RenderableType:
    """A whole file: header, then every hunk (or what the whole-file change is)."""
    parts: list[RenderableType] = [render_file_header(item)]
    for n, h in enumerate(item.hunks, 1):
        parts.append(render_hunk(h, f"hunk {n}/{len(item.hunks)}"))
    return Group(*parts)


def render_items(items: list[FileItem]) -> RenderableType:
    return Group(*[render_item(i) for i in items])


def render_summary(items: list[FileItem]) -> Text:
    """The review header: one line a file with +/− counts and hunk count."""
    from tools.workspace.review import summary_line
    t = Text(summary_line(items) + "\n", style="bold")
    for item in items:
        t.append("  ")
        t.append(item.path)
        t.append(f"  +{item.change.additions}", style=ADD)
        t.append(f" −{item.change.deletions}", style=DEL)
        t.append(f"  {item.describe()}" if item.whole_file else
                 f"  {len(item.hunks)} hunk{'s' if len(item.hunks) != 1 else ''}", style="dim")
        t.append("\n")
    t.rstrip()
    return t
