"""Where all user state lives: one directory, `AMA_HOME` (default from platformdirs).

Every folder here is made on demand by `state_dir`, which raises BadInput (exit 2) when
state cannot be written there — AMA_HOME a file, a read-only mount, a place like /proc —
saying where and how to move it (`unwritable`).
"""
from __future__ import annotations

import os
from pathlib import Path

from agent.core.errors import BadInput


def ama_home() -> Path:
    """The state directory: sessions/, workspaces/, cache/, trust store. Created on demand."""
    env = os.environ.get("AMA_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        from platformdirs import user_data_dir
        home = Path(user_data_dir("amanuensis", appauthor=False))
    return state_dir(home)


def sessions_dir() -> Path:
    return state_dir(ama_home() / "sessions")


def workspaces_dir() -> Path:
    return state_dir(ama_home() / "workspaces")


def state_dir(path: Path) -> Path:
    """`path`, made if missing. Raises BadInput (`unwritable`) if files cannot be made in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as e:    # ValueError: a NUL byte in AMA_HOME
        raise unwritable(path, e) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise unwritable(path, None)
    return path


def unwritable(path: Path, error: Exception | None) -> BadInput:
    """The error for state that could not be written at `path`: where, why, and how to
    move all of ama's state somewhere else."""
    if path.exists() and not path.is_dir():
        why = "it is a file, not a folder"
    elif isinstance(error, OSError) and error.strerror:
        why = error.strerror
    else:
        why = str(error) if error else "no permission to write there, or a read-only file system"
    where = f"AMA_HOME is {os.environ['AMA_HOME']}" if os.environ.get("AMA_HOME") else \
        "AMA_HOME is not set, so this is the default"
    return BadInput(f"cannot write ama's state to {path} ({why}; {where}); make it writable, "
                    f"or point AMA_HOME at a folder you can write, e.g. AMA_HOME=$HOME/.ama")
