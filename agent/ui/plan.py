"""The `todo_write` plan as a checklist."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from rich.text import Text

_MARK = {"pending": ("☐", ""), "in_progress": ("◐", "bold"), "completed": ("☑", "dim strike")}


def render_plan(todos: Iterable[Mapping[str, Any]]) -> Text:
    """One line an item: a box, the item; the one in progress in bold, done ones struck."""
    out = Text()
    items = list(todos)
    done = sum(t.get("status") == "completed" for t in items)
    out.append(f"Plan ({done}/{len(items)} done)\n", style="bold")
    for t in items:
        mark, style = _MARK.get(t.get("status", "pending"), _MARK["pending"])
        out.append(f"  {mark} ", style="green" if t.get("status") == "completed" else "")
        out.append(str(t.get("content", "")), style=style)
        out.append("\n")
    out.rstrip()
    return out
