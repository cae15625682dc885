"""`ama sessions list|show|rm` and `ama init`. Light at import; the work happens in
agent/session/store.py and agent/headless/init.py."""
from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from agent.cli.fail import fail
from agent.core.errors import AmaError

sessions_app = typer.Typer(rich_markup_mode=None, no_args_is_help=True,
                           help="List, show and remove sessions (logs and scratch workspaces).")


@sessions_app.command("list", help="Sessions, newest first: id, last activity, runs, last "
                                   "result, first task. --here: only this repository's.")
def sessions_list(here: bool = typer.Option(False, "--here", help="Only this repository's sessions."),
                  cwd: Optional[Path] = typer.Option(None, "--cwd", "-C"),
                  as_json: bool = typer.Option(False, "--json", help="One JSON object a line.")) -> None:
    import json
    from agent.session.store import list_sessions
    from agent.config.trust import project_root
    root = project_root(Path(cwd or Path.cwd())) if here or cwd else None
    for s in list_sessions(root):
        if as_json:
            typer.echo(json.dumps({"id": s.id, "updated": s.updated, "root": s.root, "model": s.model,
                                   "task": s.task, "runs": s.runs, "last_result": s.last_result,
                                   "workspace": s.workspace.is_dir()}))
            continue
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated))
        state = s.last_result or "unfinished"
        task = " ".join(s.task.split())[:60]
        typer.echo(f"{s.id}  {when}  {s.runs} run{'s' if s.runs != 1 else ' '}  {state:<22}  "
                   f"{task}  ({s.root})")


@sessions_app.command("show", help="Print a session's conversation and results.")
def sessions_show(session: str = typer.Argument(..., help="Session id (or a unique prefix)."),
                  full: bool = typer.Option(False, "--full", help="Tool output in full.")) -> None:
    from agent.session.log import read_session
    from agent.session.store import find_session
    try:
        info = find_session(session)
    except AmaError as e:
        fail(e)
    typer.echo(f"session {info.id}  {info.root}  model {info.model}")
    for e in read_session(info.path):
        kind = e.get("type")
        # a subagent's events (its `task` call's id in parent_call_id) nest under that call
        echo = (lambda text: typer.echo(_nested(text))) if e.get("parent_call_id") else typer.echo
        if kind == "session_started":
            echo(f"\n=== run ({'resumed' if e.get('resumed') else 'new'}, sandbox {e.get('sandbox')})")
        elif kind == "user_message":
            echo(f"\n> {e.get('text', '')}")
        elif kind == "assistant_message":
            m = e.get("message", {})
            if m.get("content"):
                echo(f"\n{m['content']}")
            for c in m.get("tool_calls", ()):
                echo(f"  → {c.get('name')} {_short(c.get('arguments'))}")
        elif kind == "tool_result":
            out = e.get("output", "")
            out = out if full else (out.strip().splitlines() or [""])[0][:160]
            echo(f"    {'✗' if e.get('is_error') else '✓'} {out}")
        elif kind == "compacted":
            echo(f"\n[compacted: ~{e.get('tokens_before')} -> ~{e.get('tokens_after')} tokens]\n"
                 f"{e.get('summary', '')}")
        elif kind == "result":
            echo(f"\n=== result: {e.get('subtype')} ({e.get('num_turns')} turns, "
                 f"${e.get('total_cost_usd', 0):.4f})")


def _nested(text: str) -> str:
    """A subagent's line(s), set in under the parent's `task` call."""
    return "\n".join(f"    │ {line}" if line else "    │" for line in text.split("\n"))


def _short(args) -> str:
    import json
    text = json.dumps(args, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


@sessions_app.command("rm", help="Remove sessions: their logs and scratch workspaces.")
def sessions_rm(sessions: List[str] = typer.Argument(None, help="Session ids (or unique prefixes)."),
                all_: bool = typer.Option(False, "--all", help="Remove every session.")) -> None:
    from agent.session.store import find_session, list_sessions, remove_session
    try:
        infos = list_sessions() if all_ else [find_session(s) for s in (sessions or [])]
    except AmaError as e:
        fail(e)
    if not infos and not all_:
        typer.echo("ama: name the sessions to remove (or --all)", err=True)
        raise typer.Exit(2)
    for info in infos:
        remove_session(info)
        typer.echo(f"removed {info.id}")


def init_command(
    cwd: Optional[Path] = typer.Option(None, "--cwd", "-C", help="The repository (default: here)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="PROVIDER:MODEL."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="docker | bwrap | local"),
    force: bool = typer.Option(False, "--force", help="Rewrite an existing AGENTS.md."),
    trust: bool = typer.Option(False, "--trust", help="Trust this repository's own files."),
) -> None:
    """Look at the repository and write a first AGENTS.md (project instructions)."""
    from agent.headless.init import run_init
    from agent.session.settle import Flags, settle
    try:
        options, _ = settle(Flags(cwd=cwd, model=model, sandbox=sandbox, trust=trust),
                            headless=False)
        path = run_init(options, force=force)
    except AmaError as e:
        fail(e)
    typer.echo(f"wrote {path}")
