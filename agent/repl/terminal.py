"""Where the REPL (and `ama review`) read keys and print: a real terminal, or the pipe
input and string console the tests give it."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console


@dataclass
class ReplIO:
    """input/output: prompt-toolkit objects (None: the terminal); console: where
    everything but the prompt is printed."""
    console: Console
    input: Any = None
    output: Any = None
    editor: str | None = None         # for "edit this hunk" (default $VISUAL/$EDITOR/vi)
    proxy: Any = None                 # the StdoutProxy to close at exit, in a terminal


def terminal_io() -> ReplIO:
    """The real terminal: rich prints through prompt-toolkit's stdout proxy, so output
    from the worker thread lands above the live region instead of through it."""
    from prompt_toolkit.patch_stdout import StdoutProxy
    proxy = StdoutProxy(raw=True, sleep_between_writes=0.02)
    console = Console(file=proxy, force_terminal=sys.stdout.isatty() or None, highlight=False)
    return ReplIO(console=console, proxy=proxy)
