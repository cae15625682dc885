"""The spinner shown while waiting on the model or a tool (plain frames; the REPL's
live line draws them)."""
from __future__ import annotations

import time

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_FRAMES = "|/-\\"


def frame(now: float | None = None, ascii_only: bool = False) -> str:
    """The frame to show at time `now` (seconds; default: the clock), 10 frames a second."""
    frames = ASCII_FRAMES if ascii_only else FRAMES
    return frames[int((time.monotonic() if now is None else now) * 10) % len(frames)]
