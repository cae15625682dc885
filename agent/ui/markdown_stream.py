"""Assistant text streamed as Markdown without flicker, keeping native scrollback.

Finished blocks (a paragraph ended by a blank line, a closed code fence, a heading)
are rendered once with rich and printed into the scrollback; only the unfinished
last block is "live" (the REPL shows it as plain text in its one redrawn region).
Nothing already printed is ever redrawn, so there is no flicker and scrollback works.
"""
from __future__ import annotations

import re

from rich.console import Console
from rich.markdown import Markdown

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")


class MarkdownStream:
    """feed(text) as deltas arrive; finish() at the end of the message."""

    def __init__(self, console: Console, code_theme: str = "monokai"):
        self.console = console
        self.code_theme = code_theme
        self._block: list[str] = []     # complete lines of the unfinished block
        self._tail = ""                 # the last, incomplete line
        self._fence: str | None = None  # the open fence marker, if inside a code block
        self.printed_blocks = 0

    @property
    def partial(self) -> str:
        """The text not yet printed (the live part)."""
        return "".join(self._block) + self._tail

    def feed(self, text: str) -> None:
        self._tail += text
        while "\n" in self._tail:
            line, self._tail = self._tail.split("\n", 1)
            self._line(line + "\n")

    def _line(self, line: str) -> None:
        fence = _FENCE.match(line)
        if self._fence is not None:
            self._block.append(line)
            if fence and fence.group(1)[0] == self._fence[0] and len(fence.group(1)) >= len(self._fence):
                self._fence = None
                self._emit()
            return
        if fence:
            if any(l.strip() for l in self._block):
                self._emit()
            self._fence = fence.group(1)
            self._block.append(line)
            return
        if not line.strip():
            self._emit()
            return
        if _HEADING.match(line):
            self._emit()
            self._block.append(line)
            self._emit()
            return
        self._block.append(line)

    def _emit(self) -> None:
        text = "".join(self._block)
        self._block = []
        if not text.strip():
            return
        if self.printed_blocks:
            self.console.print()
        self.console.print(Markdown(text.rstrip("\n"), code_theme=self.code_theme))
        self.printed_blocks += 1

    def finish(self) -> None:
        """Print whatever is left (an unclosed fence is closed for rendering)."""
        if self._tail:
            self._block.append(self._tail)
            self._tail = ""
        if self._fence is not None:
            if self._block and not self._block[-1].endswith("\n"):
                self._block.append("\n")
            self._block.append(self._fence + "\n")
            self._fence = None
        self._emit()
        self.printed_blocks = 0
