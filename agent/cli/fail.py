"""How every `ama` command ends on an error: the message on stderr, the error's exit code."""
from __future__ import annotations

from typing import NoReturn

import typer

from agent.core.errors import AmaError


def fail(e: AmaError) -> NoReturn:
    """Say what is wrong (and what to do) on stderr; exit with the error's code."""
    say(e)
    raise typer.Exit(e.exit_code)


def say(e: AmaError) -> None:
    """The one line on stderr that every error ends with."""
    typer.echo(f"ama: {e.message}", err=True)
