"""Completion of `/name` at the start of the prompt: built-in and custom commands."""
from __future__ import annotations

from typing import Callable, Iterable

from prompt_toolkit.completion import Completer, Completion


class SlashCompleter(Completer):
    """`entries()` gives (name, description) of every command, read at each completion
    (custom commands come from the session, which /resume may replace)."""

    def __init__(self, entries: Callable[[], Iterable[tuple[str, str]]]):
        self.entries = entries

    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        if not text.startswith("/") or " " in text or "\n" in text:
            return
        fragment = text[1:]
        for name, description in sorted(self.entries()):
            if name.startswith(fragment):
                yield Completion("/" + name, start_position=-len(text), display="/" + name,
                                 display_meta=description)
