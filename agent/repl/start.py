"""From the CLI's options to a running REPL (kept apart so `ama --help` stays light)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent.errors import BadInput


def repl_options(kw: dict[str, Any]):
    """RunOptions for an interactive session from `main_command`'s keyword arguments.
    Headless-only options (output format, --apply, --verify, attempts) are ignored."""
    from agent.cli import DEFAULT_MODEL
    from agent.headless import RunOptions
    from agent.loop import Limits

    if (kw.get("permission_mode") or "default") not in ("default", "plan", "bypass"):
        raise BadInput(f"--permission-mode {kw['permission_mode']!r}: choose default, plan or bypass")
    max_turns = kw.get("max_turns") or 50
    if max_turns < 1:
        raise BadInput("--max-turns must be at least 1")
    return RunOptions(
        task="", model=kw.get("model") or os.environ.get("AMA_MODEL") or DEFAULT_MODEL,
        cwd=kw.get("cwd") or Path.cwd(), sandbox=kw.get("sandbox"),
        sandbox_image=kw.get("sandbox_image"), network=bool(kw.get("network")),
        limits=Limits(max_turns=max_turns, max_seconds=kw.get("max_time"),
                      max_cost_usd=kw.get("max_cost")),
        allowed_tools=tuple(kw.get("allowed_tools") or ()),
        disallowed_tools=tuple(kw.get("disallowed_tools") or ()),
        permission_mode=kw.get("permission_mode") or "default",
        keep_workspace=bool(kw.get("keep_workspace")),
        # config, trust, --continue/--resume, ask rules, model options (agent/cli_config.py)
        **(kw["run_config"].fields() if kw.get("run_config") is not None else {}))


def start_repl(kw: dict[str, Any], auto_accept: bool = False) -> int:
    """`ama [TASK]` in a terminal: the REPL, with TASK as the first message if given."""
    from agent.repl.app import run_repl
    opts = repl_options(kw)
    first = kw.get("task") or None
    return run_repl(opts, first, auto_accept=auto_accept)
