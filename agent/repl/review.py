"""`ama review`: reopen the pending change set of the last session in this repo and
review it hunk by hunk with the REPL's review UI.

A headless run with `--apply patch` (the default) keeps its workspace under
AMA_HOME/workspaces/<session_id>; a REPL session left with changes pending does too.
The session logs' `session_started` event says which repo (cwd) and which scratch
tree each session used.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from agent.config.trust import project_root
from agent.core.errors import BadInput


@dataclass(frozen=True)
class PendingSession:
    session_id: str
    cwd: Path
    workspace_dir: Path


def _first_event(path: Path, type_: str, max_lines: int = 50) -> dict | None:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= max_lines:
                break
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("type") == type_:
                return record
    return None


def find_pending(cwd: Path, sessions_dir: Path) -> PendingSession | None:
    """The newest session started in the same repo as `cwd` whose workspace still exists."""
    here = project_root(cwd)
    for log in sorted(sessions_dir.glob("*.jsonl"), reverse=True):
        started = _first_event(log, "session_started")
        if not started or not started.get("workspace"):
            continue
        ws_dir = Path(started["workspace"]).parent
        if not (ws_dir / "shadow.git").is_dir():
            continue
        run_cwd = Path(started.get("cwd", ""))
        if not run_cwd.is_dir() or project_root(run_cwd) != here:
            continue
        return PendingSession(started["session_id"], run_cwd, ws_dir)
    return None


def review_command(cwd: Path, *, show_only: bool = False, accept_all: bool = False,
                   io=None) -> int:
    """Reopen and review; returns the exit code. `io`: a ReplIO (tests), else the terminal."""
    from agent.config.home import sessions_dir
    from rich.text import Text
    from tools.workspace.review import split_change_set
    from tools.workspace.scratch import Workspace
    from agent.repl.review_ui import review_change_set
    from agent.ui.diff import render_items, render_summary

    pending = find_pending(Path(cwd), sessions_dir())
    if pending is None:
        raise BadInput(f"no pending change set for {project_root(Path(cwd))}: no earlier session "
                       f"in this repo kept its workspace (headless runs keep it with "
                       f"--apply patch when they changed files)")
    if io is None:
        import sys
        if not (show_only or accept_all) and not sys.stdin.isatty():
            raise BadInput("`ama review` asks about each hunk and needs a terminal; use --show "
                           "to print the pending diff or --accept-all to apply it")
        from agent.repl.terminal import terminal_io
        io = terminal_io()
    console = io.console
    try:
        ws = Workspace.open(project_root(pending.cwd), pending.workspace_dir)
        cs = ws.change_set()
        if cs.empty:
            console.print(Text(f"session {pending.session_id}: nothing pending", style="dim"))
            ws.cleanup()
            return 0
        items = split_change_set(cs)
        console.print(Text(f"session {pending.session_id}", style="dim"))
        if show_only:
            console.print(render_summary(items))
            console.print(render_items(items))
            return 0
        from prompt_toolkit import PromptSession

        def ask(message: str) -> str:   # not called with --accept-all
            return PromptSession(input=io.input, output=io.output).prompt(message)
        rep, _ = review_change_set(ws, cs, console, ask, auto=accept_all, allow_feedback=False,
                                   editor=io.editor)
        if ws.change_set().empty:
            ws.cleanup()   # nothing left to review: the workspace has done its job
        return 1 if rep.conflicts else 0
    finally:
        if io.proxy is not None:
            io.proxy.close()
