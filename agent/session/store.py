"""Finding, resuming and removing sessions (the logs themselves are agent/session/log.py).

A session is `AMA_HOME/sessions/<id>.jsonl` plus, while it has unreviewed changes or
was cut off, its scratch workspace `AMA_HOME/workspaces/<id>/`. Resuming appends to the
same log: the conversation is rebuilt from the events (`rebuild_messages`) and the
workspace reopened at its last checkpoint (`reopen_workspace`).

What makes a log rebuildable: every message the loop adds to the conversation is
emitted as an event — `user_message` (text), `assistant_message` (the whole Message),
`tool_result` (output, is_error) — and `compacted` carries the conversation as it
stands after a compaction. A subagent's events (`parent_call_id` set) are not part of it.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from agent.core.errors import BadInput
from agent.config.home import sessions_dir, workspaces_dir
from agent.session.log import read_session
from agent.core.types import Message

INTERRUPTED_TOOL = "not run: the session was interrupted before this call ran"
INTERRUPTED_REPLY = "(the session was interrupted before this turn was answered)"


@dataclass(frozen=True)
class SessionInfo:
    """A summary of one session log, for listing and for `--continue`."""
    id: str
    path: Path
    updated: float          # mtime of the log
    root: str               # repository root ("" for logs from before it was recorded)
    cwd: str
    model: str
    task: str               # the first instruction
    runs: int               # how many runs (session_started events) it holds
    last_result: str        # subtype of the last result, "" when the last run never ended

    @property
    def workspace(self) -> Path:
        return workspaces_dir() / self.id


def session_info(path: Path) -> SessionInfo:
    root = cwd = model = task = last = ""
    runs = 0
    for e in read_session(path):
        kind = e.get("type")
        if kind == "session_started":
            runs += 1
            root, cwd, model = e.get("root") or root, e.get("cwd", cwd), e.get("model", model)
            last = ""
        elif kind == "user_message" and not task:
            task = e.get("text", "")
        elif kind == "result":
            last = e.get("subtype", "")
    return SessionInfo(path.stem, path, path.stat().st_mtime, root or cwd, cwd, model, task,
                       runs, last)


def list_sessions(root: Path | None = None) -> list[SessionInfo]:
    """Sessions, newest first; only those of repository `root` when given."""
    infos = []
    for path in sessions_dir().glob("*.jsonl"):
        try:
            info = session_info(path)
        except OSError:
            continue
        if root is None or same_path(info.root, root):
            infos.append(info)
    return sorted(infos, key=lambda i: (i.updated, i.id), reverse=True)


def latest_session(root: Path) -> SessionInfo:
    """The most recent session of this repository (`--continue`). BadInput if none."""
    found = list_sessions(root)
    if not found:
        raise BadInput(f"no earlier session in {root} to continue; start one without --continue "
                       f"(`ama sessions list` shows all sessions)")
    return found[0]


def find_session(ref: str) -> SessionInfo:
    """A session by id or unique id prefix (`--resume ID`, `ama sessions show ID`)."""
    exact = sessions_dir() / f"{ref}.jsonl"
    if exact.is_file():
        return session_info(exact)
    matches = sorted(sessions_dir().glob(f"{ref}*.jsonl")) if ref and "/" not in ref else []
    if len(matches) == 1:
        return session_info(matches[0])
    if not matches:
        raise BadInput(f"no session {ref!r}; `ama sessions list` shows the ids")
    raise BadInput(f"{ref!r} matches {len(matches)} sessions ({', '.join(m.stem for m in matches[:5])}"
                   f"); give more of the id")


def remove_session(info: SessionInfo) -> None:
    """Delete the log and the scratch workspace of a session."""
    shutil.rmtree(info.workspace, ignore_errors=True)
    info.path.unlink(missing_ok=True)


def rebuild_messages(events: Iterable[dict[str, Any]]) -> list[Message]:
    """The conversation (without the system prompt) as the model last saw it, from a log.

    A run cut off mid-turn (SIGKILL, a crash) is repaired so the conversation is valid
    to send again: a tool call without a result gets one saying it never ran, and an
    instruction the model never answered gets a placeholder reply.
    """
    messages: list[Message] = []
    for e in events:
        kind = e.get("type")
        if e.get("parent_call_id"):
            continue  # a subagent's: its conversation is its own, gone with it
        if kind == "user_message":
            messages.append(Message("user", e.get("text", "")))
        elif kind == "assistant_message":
            messages.append(Message.from_dict(e["message"]))
        elif kind == "tool_result":
            messages.append(Message("tool", e.get("output", ""), tool_call_id=e.get("call_id"),
                                    name=e.get("name"), is_error=bool(e.get("is_error"))))
        elif kind == "compacted":
            messages = [Message.from_dict(m) for m in e.get("messages", ())]
    return _repair(messages)


def _repair(messages: list[Message]) -> list[Message]:
    out: list[Message] = []
    pending: list = []   # tool calls of the last assistant message still without a result
    for m in messages:
        if m.role != "tool" and pending:
            out += [_not_run(c) for c in pending]
            pending = []
        if m.role == "user" and out and out[-1].role == "user":
            out.append(Message("assistant", INTERRUPTED_REPLY))
        if m.role == "tool":
            if not any(c.id == m.tool_call_id for c in pending):
                continue  # a result whose call is unknown (cut-off log): the API would refuse it
            pending = [c for c in pending if c.id != m.tool_call_id]
        out.append(m)
        if m.role == "assistant":
            pending = list(m.tool_calls)
    out += [_not_run(c) for c in pending]
    if out and out[-1].role == "user":
        out.append(Message("assistant", INTERRUPTED_REPLY))
    return out


def _not_run(call) -> Message:
    return Message("tool", INTERRUPTED_TOOL, tool_call_id=call.id, name=call.name, is_error=True)


def reopen_workspace(session_id: str, user_root: Path):
    """The session's scratch workspace, restored to its last checkpoint; None when it is gone
    (its changes were applied or discarded: a fresh copy of the user's tree is then right)."""
    from tools.workspace.scratch import Workspace
    base = workspaces_dir() / session_id
    if not (base / "shadow.git").is_dir() or not (base / "tree").is_dir():
        return None
    ws = Workspace.open(user_root, base)
    if not ws.base:
        return None
    ws.restore(ws.head())  # undo whatever ran after the last checkpoint (a killed command)
    return ws


def load_messages(session_id: str) -> list[Message]:
    """The conversation of `session_id` as its log last had it ([] if there is no log)."""
    path = sessions_dir() / f"{session_id}.jsonl"
    return rebuild_messages(read_session(path)) if path.is_file() else []


def same_path(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return str(a) == str(b)
