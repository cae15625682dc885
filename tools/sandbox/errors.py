"""Errors of the sandbox layer, for the user: each message says what to do."""
from __future__ import annotations


class SandboxUnavailable(Exception):
    """No sandbox of the kind asked for (or of any kind) can be started here.

    The message names the fix: start or install an engine, build the image, or pass
    `--sandbox local` knowingly (no isolation).
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
