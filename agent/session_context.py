"""The parts of `open_session` that depend on config, trust and earlier sessions.

Kept apart from agent/setup.py so that file stays a short list of steps:
`workspace_for` (new, or the resumed session's at its last checkpoint), `memory_for`
(project memory, marked untrusted until the repo is trusted), `first_context` (the
repo map for the first turn, never fatal), `resume_into` (the earlier conversation),
`compactor_for`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import events as ev
from agent.home import ama_home, workspaces_dir
from agent.memory import find_memory

if TYPE_CHECKING:
    from agent.compaction import Compactor
    from agent.headless import RunOptions
    from agent.loop import Agent
    from tools.workspace.scratch import Workspace


def config_value(opts: "RunOptions", name: str, default: Any) -> Any:
    cfg = getattr(opts, "config", None)
    value = cfg.get(name) if cfg is not None else None
    return default if value is None else value


def workspace_for(opts: "RunOptions", cwd: Path, session_id: str, emit: ev.EventSink) -> "Workspace":
    """A resumed session's workspace at its last checkpoint, else a fresh copy of `cwd`."""
    from tools.workspace.scratch import Workspace
    if getattr(opts, "resume", None):
        from agent.sessions import reopen_workspace
        from agent.trust import project_root
        try:
            ws = reopen_workspace(session_id, project_root(cwd))
        except Exception as e:  # a damaged workspace: start from the user's tree instead
            emit(ev.Notice("warning", f"could not reopen the workspace of {session_id} ({e}); "
                                      f"starting from a fresh copy"))
            ws = None
        if ws is not None:
            emit(ev.Notice("info", f"workspace of {session_id} restored from its last checkpoint"))
            return ws
    return Workspace.create(cwd, workspaces_dir() / session_id)


def memory_for(user_root: Path, cwd: Path, trusted: bool) -> list[dict[str, str]]:
    """AGENTS.md / CLAUDE.md for the system prompt. Until the repo is trusted they are
    wrapped as untrusted notes: the model may read what they say about the project but
    is told not to run the commands they ask for (prompts/untrusted_memory.md)."""
    items = find_memory(user_root, cwd)
    if trusted:
        return items
    from prompts import render
    return [{"path": f"{i['path']} (untrusted)",
             "text": render("untrusted_memory.md", text=i["text"]).strip()} for i in items]


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]{2,}")


def first_context(opts: "RunOptions", tree: Path, user_root: Path, emit: ev.EventSink) -> str:
    """The repo map for the first turn, leaning toward paths and names in the task; "" when
    disabled (`repo_map.max_tokens = 0`), unavailable or failing — never an error."""
    budget = int(config_value(opts, "repo_map.max_tokens", 1024))
    if budget <= 0:
        return ""
    try:
        from tools.repomap import build_repo_map
        words = set(_WORD.findall(opts.task or ""))
        files = [w for w in words if ("/" in w or "." in w) and (tree / w).exists()]
        idents = [w for w in words if w.isidentifier()]
        return build_repo_map(tree, cache_dir=ama_home() / "cache" / "repomap",
                              focus_files=files, focus_idents=idents, max_tokens=budget,
                              cache_key=str(user_root)).strip()
    except ImportError:
        return ""
    except Exception as e:  # the map helps; it must never stop a run
        emit(ev.Notice("debug", f"no repo map for the first turn: {type(e).__name__}: {e}"))
        return ""


def resume_into(agent: "Agent", session_id: str, emit: ev.EventSink) -> None:
    """Put the earlier conversation of `session_id` after the system prompt."""
    from agent.home import sessions_dir
    from agent.session import read_session
    from agent.sessions import rebuild_messages
    path = sessions_dir() / f"{session_id}.jsonl"
    earlier = rebuild_messages(read_session(path)) if path.is_file() else []
    agent.messages[1:] = earlier
    emit(ev.Notice("info", f"resumed session {session_id} ({len(earlier)} earlier messages)"))


def compactor_for(opts: "RunOptions", agent: "Agent", ws: "Workspace") -> "Compactor":
    from agent.compaction import Compactor
    model = agent.model
    window = int(config_value(opts, "context_window", 0) or getattr(model, "context_window", 0)
                 or 128_000)

    def changed_files() -> list[str]:
        return [f["path"] for f in ws.change_set(fresh=False).summary()["files"]]

    def add_usage(u) -> None:
        agent.usage = agent.usage + u

    compactor = Compactor(model=model, emit=agent.emit, context_window=window,
                          threshold=float(config_value(opts, "compaction.threshold", 0.8)),
                          keep_turns=int(config_value(opts, "compaction.keep_turns", 2)),
                          changed_files=changed_files, on_usage=add_usage)
    agent.emit = ev.fan_out(agent.emit, compactor.observe)
    return compactor
