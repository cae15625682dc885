"""Everything a session needs before the loop starts, and tearing it down after.

Shared by the headless runner and the REPL: model, scratch workspace, sandbox,
tools, system prompt, permissions, the Agent, and how to apply a change set.
"""
from __future__ import annotations

import os
import shlex
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TYPE_CHECKING

from agent import events as ev
from agent.errors import BadInput, RuntimeFailure, SandboxError
from agent.home import ama_home
from agent.loop import Agent
from agent.session_context import (compactor_for, first_context, memory_for, resume_into,
                                   workspace_for)
from agent.models.registry import resolve_model
from agent.permissions import Permissions
from agent.types import ModelSettings
from tools.sandbox.select import KINDS as SANDBOX_KINDS

if TYPE_CHECKING:
    from agent.headless import RunOptions
    from tools.workspace.changeset import ChangeSet
    from tools.workspace.scratch import Workspace



@dataclass
class SessionSetup:
    agent: Agent
    workspace: "Workspace"
    sandbox: Any
    emit: ev.EventSink

    def checkpoint(self, call) -> None:
        commit = self.workspace.snapshot()
        self.emit(ev.Checkpoint(f"refs/ama/checkpoints/{len(self.workspace.checkpoints)}",
                                commit, call.id))

    def apply(self, cs: "ChangeSet", mode: str, patch_out: Path | None, message: str,
              author: str | None = None) -> dict:
        """Apply a change set per `--apply`; `author` ("Name <email>") of commit/branch."""
        from tools.workspace.changeset import ApplyConflict, apply_branch, apply_commit, apply_to_tree
        user = self.workspace.user_root
        subject = _commit_message(message)
        try:
            if mode == "patch":
                if patch_out is not None:
                    patch_out.write_text(cs.patch)
                return {"mode": "patch", "patch_out": str(patch_out) if patch_out else None}
            if mode == "tree":
                return {"mode": "tree", "paths": apply_to_tree(cs, user)}
            if mode == "commit":
                return {"mode": "commit", "commit": apply_commit(cs, user, subject, author=author)}
            branch = mode.split(":", 1)[1]
            return {"mode": "branch", "branch": branch,
                    "commit": apply_branch(cs, user, branch, subject, author=author)}
        except ApplyConflict as e:
            raise RuntimeFailure(str(e)) from e

    def close(self, keep: bool = False) -> None:
        try:
            self.sandbox.close()
        finally:
            if not keep:
                self.workspace.cleanup()


def _commit_message(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()] or ["Changes by amanuensis"]
    subject = lines[0].strip().lstrip("#").strip()[:72]
    body = "\n".join(lines[1:]).strip()
    return subject + ("\n\n" + body if body else "")


def check_inputs(opts: "RunOptions") -> Path:
    """Everything about the request that can be wrong before anything starts (exit 2)."""
    cwd = Path(opts.cwd).expanduser()
    if not cwd.is_dir():
        raise BadInput(f"--cwd {opts.cwd}: no such directory")
    if opts.sandbox is not None and opts.sandbox not in SANDBOX_KINDS:
        raise BadInput(f"--sandbox {opts.sandbox!r}: choose one of {', '.join(SANDBOX_KINDS)}")
    if opts.apply in ("commit",) or opts.apply.startswith("branch:"):
        from tools.workspace.git import check_new_branch, repo_top
        top = repo_top(cwd)
        if top is None:
            raise BadInput(f"--apply {opts.apply} needs a git repository; {cwd} is not in one "
                           f"(use --apply patch or tree)")
        if opts.apply.startswith("branch:"):
            name = opts.apply.split(":", 1)[1]
            try:
                check_new_branch(top, name)
            except ValueError as e:
                raise BadInput(f"--apply branch:{name}: {e}") from e
    return cwd.resolve()


def open_sandbox(kind: str | None, ws: "Workspace", opts: "RunOptions", session_id: str):
    """The session's sandbox over the scratch tree; None picks docker, else bwrap."""
    from tools.sandbox.select import open_sandbox as _open
    from tools.sandbox.errors import SandboxUnavailable
    try:
        return _open(kind, ws.tree, image=opts.sandbox_image, network=opts.network,
                     readonly_mounts=ws.readonly_mounts, session_id=session_id)
    except SandboxUnavailable as e:
        raise BadInput(str(e)) from e
    except Exception as e:
        raise SandboxError(f"could not start the {kind or 'default'} sandbox: {e}") from e


def _start_in_subdir(sandbox, ws: "Workspace", cwd: Path) -> str:
    """When ama was started below the repo's top, the shell starts in that directory too.
    Returns the directory relative to the top ("" at the top)."""
    try:
        rel = cwd.relative_to(ws.user_root).as_posix()
    except ValueError:
        return ""
    if rel in ("", ".") or not (ws.tree / rel).is_dir():
        return ""
    sandbox.exec(f"cd -- {shlex.quote(rel)}", timeout=10)
    return rel


def open_session(opts: "RunOptions", session_id: str, emit: ev.EventSink,
                 cancel: threading.Event) -> SessionSetup:
    from tools.base import ToolContext
    from tools.registry import default_tools
    from prompts import render

    cwd = check_inputs(opts)
    for notice in getattr(opts.config, "notices", ()):   # e.g. an untrusted project config
        emit(ev.Notice("warning", notice))
    model = resolve_model(opts.model, {"cwd": str(cwd), **opts.model_options})
    if opts.limits.max_cost_usd is not None and getattr(model, "price", False) is None:
        emit(ev.Notice("warning", f"no price is known for {opts.model}, so --max-cost cannot stop "
                                  f"this run; add its prices under [prices] in your config"))
    try:
        permissions = Permissions.from_lists(allow=opts.allowed_tools, deny=opts.disallowed_tools,
                                             ask=opts.ask_tools, mode=opts.permission_mode,
                                             network=opts.network, granted=opts.granted_tools)
    except ValueError as e:
        raise BadInput(str(e)) from e
    ws = workspace_for(opts, cwd, session_id, emit)   # resumed: its last checkpoint
    try:
        sandbox = open_sandbox(opts.sandbox or os.environ.get("AMA_SANDBOX"), ws, opts, session_id)
    except BaseException:
        ws.cleanup()
        raise
    subdir = _start_in_subdir(sandbox, ws, cwd)
    permissions.sandboxed = sandbox.kind != "local"
    if sandbox.kind == "local":
        emit(ev.Notice("warning", "sandbox 'local': commands run on this machine without "
                                  "isolation (in the scratch copy)"))
    emit(ev.SessionStarted(session_id, opts.model, str(cwd), sandbox.kind, str(ws.tree),
                           root=str(ws.user_root), resumed=bool(opts.resume)))
    tools = default_tools(cache_dir=ama_home() / "cache" / "repomap", cache_key=str(ws.user_root))
    prompt = render("system.md", workdir=sandbox.workdir, sandbox=sandbox.kind,
                    network=opts.network, date=time.strftime("%Y-%m-%d"), subdir=subdir,
                    memory=memory_for(ws.user_root, cwd, opts.trusted),
                    context=first_context(opts, ws.tree, ws.user_root, emit))
    ctx = ToolContext(root=ws.tree, sandbox=sandbox, cancel=cancel)
    setup = SessionSetup(agent=None, workspace=ws, sandbox=sandbox, emit=emit)  # type: ignore[arg-type]
    setup.agent = Agent(model=model, tools=tools, ctx=ctx, emit=emit, system_prompt=prompt,
                        settings=ModelSettings(), limits=opts.limits, permissions=permissions,
                        on_mutation=setup.checkpoint)
    setup.agent.compactor = compactor_for(opts, setup.agent, ws)
    if opts.resume:
        resume_into(setup.agent, session_id, emit)
    if opts.verify:
        from agent.verify import Verifier
        setup.agent.verifier = Verifier(opts.verify, sandbox, max_attempts=opts.max_verify)
    return setup
