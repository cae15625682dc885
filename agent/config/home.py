"""Where all user state lives: one directory, `AMA_HOME` (default from platformdirs)."""
from __future__ import annotations

import os
from pathlib import Path


def ama_home() -> Path:
    """The state directory: sessions/, workspaces/, cache/, trust store. Created on demand."""
    env = os.environ.get("AMA_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        from platformdirs import user_data_dir
        home = Path(user_data_dir("amanuensis", appauthor=False))
    home.mkdir(parents=True, exist_ok=True)
    return home


def sessions_dir() -> Path:
    d = ama_home() / "sessions"
    d.mkdir(parents=True, exist_ok=True)
    return d


def workspaces_dir() -> Path:
    d = ama_home() / "workspaces"
    d.mkdir(parents=True, exist_ok=True)
    return d
