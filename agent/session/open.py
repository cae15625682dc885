"""`open_session`: everything a session needs, built whole and in dependency order.

    model → permissions → [MCP servers start, in a thread] → workspace (new, or the
    resumed one at its last checkpoint) → sandbox over it → the MCP servers' tools →
    tools (the `task` tool over the others) → system prompt (memory files, repo map) →
    compactor → verifier → Agent → the earlier conversation when resuming

Nothing is built half and patched afterwards. What fails before the loop could start
raises an AmaError (BadInput for the request, SandboxError for the sandbox) and leaves
nothing behind.
"""
from __future__ import annotations

import os
import re
import shlex
import threading
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config.home import ama_home, sessions_dir, workspaces_dir
from agent.core import events as ev
from agent.core.errors import BadInput, SandboxError
from agent.core.hooks import HookRunner
from agent.core.loop import Agent, Approver
from agent.core.permissions import Permissions
from agent.core.types import ModelSettings
from agent.session.log import new_session_id
from agent.session.memory import memory_for
from agent.session.options import SessionOptions
from agent.session.session import Session, context_window
from agent.session.subagent import task_tool
from tools.sandbox.errors import SandboxUnavailable

if TYPE_CHECKING:
    from concurrent.futures import Future

    from agent.core.compaction import Compactor
    from tools.mcp.hub import McpHub
    from tools.mcp.spec import ServerSpec
    from tools.workspace.scratch import Workspace

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]{2,}")


def open_session(options: SessionOptions, sink: ev.EventSink = lambda e: None, *,
                 session_id: str | None = None, cancel: threading.Event | None = None,
                 approve: Approver | None = None, focus: str = "") -> Session:
    """Open a session. `sink` receives every event (the session log is one such sink);
    `session_id` defaults to `options.resume` or a new id; `cancel` interrupts it;
    `approve(call, reason)` answers "ask" rules (None: an ask is a denial, as headless);
    `focus`: text (usually the first task) whose paths and names the first turn's repo
    map leans toward."""
    from prompts import render
    from agent.models.registry import resolve_model
    from tools.base import ToolContext
    from tools.registry import default_tools

    session_id = session_id or options.resume or new_session_id()
    cancel = cancel or threading.Event()
    for notice in options.notices:   # e.g. an untrusted project config
        sink(ev.Notice("warning", notice))
    model = resolve_model(options.model, {"cwd": str(options.cwd), **options.model_options})
    if getattr(model, "price", False) is None:   # a provider that prices, not this model
        from agent.models.pricing import unknown_price_note
        name = str(getattr(model, "model", options.model.split(":", 1)[-1]))
        sink(ev.Notice("warning", unknown_price_note(options.model, name)))
    permissions = Permissions.from_lists(allow=options.allow, deny=options.deny, ask=options.ask,
                                         mode=options.permission_mode, network=options.network,
                                         granted=options.granted)
    with ExitStack() as undo:   # a failing step leaves nothing behind: no server, copy, container
        mcp = _McpStart(options.mcp_servers)   # servers start while the sandbox does
        undo.callback(mcp.abandon)
        ws = _workspace(options, session_id, sink)
        undo.callback(_discard, ws, options)
        sandbox = _sandbox(options, ws, session_id)
        undo.callback(sandbox.close)
        mcp.sandbox_ready(sandbox)
        hub, servers = mcp.join(options, sink)
        subdir = _start_in_subdir(sandbox, ws, options.cwd)
        permissions.sandboxed = sandbox.kind != "local"
        if sandbox.kind == "local":
            sink(ev.Notice("warning", "sandbox 'local': commands run on this machine without "
                                      "isolation (in the scratch copy)"))
        sink(ev.SessionStarted(session_id, options.model, str(options.cwd), sandbox.kind,
                               str(ws.tree), root=str(ws.user_root), resumed=bool(options.resume),
                               mcp_servers=servers))
        cache = ama_home() / "cache" / "repomap"
        tools = [*default_tools(cache_dir=cache, cache_key=str(ws.user_root)),
                 *(hub.tools if hub else ())]
        if options.skills:
            from tools.skill import SkillTool
            tools.append(SkillTool(list(options.skills)))
        task, agent_warnings = task_tool(options, tools, sandbox)   # subagents over those tools
        for warning in agent_warnings:
            sink(ev.Notice("warning", warning))
        tools += [task] if task is not None else []
        prompt = render("system.md", workdir=sandbox.workdir, sandbox=sandbox.kind,
                        network=options.network, date=time.strftime("%Y-%m-%d"), subdir=subdir,
                        memory=memory_for(ws.user_root, options.cwd, options.trusted),
                        skills=options.skills,
                        context=_first_context(options, ws, focus, sink))
        compactor = _compactor(options, model, ws, sink)
        verifier = None
        if options.verify:
            from agent.core.verify import Verifier
            verifier = Verifier(options.verify, sandbox, max_attempts=options.max_verify)
        hooks = HookRunner(options.hooks, session_id, str(sessions_dir() / f"{session_id}.jsonl"),
                           str(ws.user_root), str(ws.tree), options.max_stop_returns)
        agent = Agent(model=model, tools=tools,
                      ctx=ToolContext(root=ws.tree, sandbox=sandbox, cancel=cancel),
                      emit=ev.fan_out(sink, ev.top_level(compactor.observe)), system_prompt=prompt,
                      settings=ModelSettings(), limits=options.limits, permissions=permissions,
                      approve=approve, on_mutation=_checkpointer(ws, sink),
                      verifier=verifier, compactor=compactor, hooks=hooks)
        session = Session(id=session_id, options=options, agent=agent, workspace=ws,
                          sandbox=sandbox, emit=agent.emit, cancel=cancel, model=options.model,
                          mcp=hub, mcp_servers=servers)
        if options.resume:
            count = session.load_conversation(session_id)
            sink(ev.Notice("info", f"resumed session {session_id} ({count} earlier messages)"))
        session.start("resume" if options.resume else "startup")   # SessionStart hooks
        undo.pop_all()   # the session owns them now: Session.close ends them
        return session


class _McpStart:
    """The session's MCP servers, started in threads of their own so that they come up
    while the session is set up: the host's (and HTTP ones) at once, the sandboxed ones
    as soon as the sandbox is up (`sandbox_ready`). Nothing of the SDK is imported
    without servers."""

    def __init__(self, specs: tuple["ServerSpec", ...]) -> None:
        self._hub: "McpHub | None" = None
        self._boxed = tuple(s for s in specs if s.sandboxed)
        self._futures: "list[Future[list]]" = []
        self._refused: list[tuple["ServerSpec", str]] = []
        if specs:
            from concurrent.futures import ThreadPoolExecutor
            from tools.mcp.hub import McpHub   # light: the SDK loads on the hub's thread
            self._hub = McpHub()
            self._pool = ThreadPoolExecutor(2, thread_name_prefix="ama-mcp")
            self._futures.append(self._pool.submit(
                self._hub.add, tuple(s for s in specs if not s.sandboxed)))

    def sandbox_ready(self, sandbox) -> None:
        """Start the sandboxed servers through `sandbox`'s way in; refused (with the
        reason) where the session has no sandbox that can host one."""
        if self._hub is None:
            return
        launchable = []
        for spec in self._boxed:
            try:
                launchable.append(launch_in(sandbox, spec))
            except SandboxUnavailable as e:
                self._refused.append((spec, str(e)))
        self._futures.append(self._pool.submit(self._hub.add, tuple(launchable)))
        self._pool.shutdown(wait=False)

    def join(self, options: SessionOptions, sink: ev.EventSink
             ) -> tuple["McpHub | None", tuple[dict, ...]]:
        """The started hub and {name, status, tools, withheld, error} of every server, refused
        ones included; a warning for each that is not connected, and for each whose
        tools were withheld because they differ from their pins. BadInput (exit 2) for
        a `required` one that did not connect."""
        try:
            for future in self._futures:
                future.result()
        except ImportError as e:   # the `mcp` package is missing
            raise BadInput(f"MCP servers are configured but the MCP client cannot load "
                           f"({e}); pip install 'mcp>=2'") from None
        specs = {s.name: s for s in options.mcp_servers}
        hub = self._hub
        if hub is not None:
            self._hold_back_unpinned(hub, specs, options, sink)
        order = {name: i for i, name in enumerate(specs)}   # as defined, not as they came up
        rows = [(specs.get(st.name), st.name, st.status, tuple(st.tools), st.error,
                 tuple(st.withheld)) for st in sorted(hub.statuses if hub else (),
                                                      key=lambda st: order.get(st.name, 0))]
        rows += [(spec, spec.name, "disabled", (), why, ())
                 for spec, why in (*self._refused, *options.mcp_refused)]
        for spec, name, status, _, why, _ in rows:
            if status == "connected":
                continue
            if spec is not None and spec.required:
                raise BadInput(f"MCP server {name} is required but did not connect "
                               f"({status}: {why}); it is defined in {spec.source}")
            sink(ev.Notice("warning", f"MCP server {name} not started: {why}"
                           if status == "disabled" else f"MCP server {name}: {status}: {why}"))
        return hub, tuple({"name": n, "status": st, "tools": list(t), "withheld": list(w),
                           "error": why} for _, n, st, t, why, w in rows)

    @staticmethod
    def _hold_back_unpinned(hub: "McpHub", specs: dict, options: SessionOptions,
                            sink: ev.EventSink) -> None:
        """Compare each connected server's tools with their pins (agent/config/mcp_pins):
        pin a server seen for the first time, withhold what changed since, and say so."""
        from agent.config.mcp_pins import check_pins, defined_by_repo
        from agent.config.trust import project_root
        from tools.mcp.spec import tool_name
        connected = [(specs[st.name], st.pins) for st in hub.statuses
                     if st.status == "connected" and st.name in specs]
        if not connected:
            return
        root = project_root(options.cwd)
        for (_, pins), check in zip(connected, check_pins(root, connected)):
            if check.pinned:
                why = "first connection" if check.pinned == "first" else "its definition changed"
                count = f"{len(pins)} tool{'' if len(pins) == 1 else 's'}"
                sink(ev.Notice("info", f"MCP server {check.server} ({why}): its {count} pinned "
                                       f"as listed now; a later change to one withholds it "
                                       f"until you approve it"))
            status = hub.withhold(check.server, check.withheld) if check.withheld else None
            if status is None or not status.withheld:
                continue
            new = {tool_name(check.server, t) for t in check.new}
            what = ", ".join(f"{n} ({'new' if n in new else 'changed'})" for n in status.withheld)
            where = f" in {root}" if defined_by_repo(specs[check.server]) else ""
            sink(ev.Notice("warning", f"MCP server {check.server}: tools withheld, they are not "
                                      f"as you approved them: {what}; `ama mcp approve "
                                      f"{check.server}`{where} shows them and approves them"))

    def abandon(self) -> None:
        """The open failed: close the servers once they have started."""
        if self._hub is None:
            return
        for future in self._futures:
            try:
                future.result()
            except Exception:   # it never started; nothing to close
                pass
        self._hub.close()


def launch_in(sandbox, spec: "ServerSpec") -> "ServerSpec":
    """`spec` as started through `sandbox`'s way in (`docker exec -i`, a bwrap instance).
    SandboxUnavailable, saying why, where the sandbox cannot host a server."""
    if not hasattr(sandbox, "stdio_argv"):   # the local "sandbox" has no inside
        raise SandboxUnavailable(NO_SANDBOX_FOR_SERVER.format(
            why="sandbox = true" if spec.trusted else "it is defined by the repository"))
    argv, env = sandbox.stdio_argv([spec.command, *spec.args], cwd=spec.cwd or ".", env=spec.env)
    return replace(spec, launch=tuple(argv), launch_env=env)


NO_SANDBOX_FOR_SERVER = ("it runs only in a sandbox ({why}), and this session has none "
                         "(--sandbox local); use --sandbox docker or bwrap")


def _discard(ws: "Workspace", options: SessionOptions) -> None:
    """Remove a scratch copy the failed open made (a resumed one holds earlier work)."""
    if not options.resume:
        ws.cleanup()


def _checkpointer(ws: "Workspace", sink: ev.EventSink):
    """After each mutating tool call: snapshot the scratch tree (for undo and resume)."""
    def checkpoint(call) -> None:
        tree = ws.snapshot()
        sink(ev.Checkpoint(f"refs/ama/checkpoints/{len(ws.checkpoints)}", tree, call.id))
    return checkpoint


def _workspace(options: SessionOptions, session_id: str, sink: ev.EventSink) -> "Workspace":
    """A resumed session's workspace at its last checkpoint, else a fresh copy of `cwd`."""
    from tools.workspace.scratch import Workspace
    if options.resume:
        from agent.config.trust import project_root
        from agent.session.store import reopen_workspace
        try:
            ws = reopen_workspace(session_id, project_root(options.cwd))
        except Exception as e:  # a damaged workspace: start from the user's tree instead
            sink(ev.Notice("warning", f"could not reopen the workspace of {session_id} ({e}); "
                                      f"starting from a fresh copy"))
            ws = None
        if ws is not None:
            sink(ev.Notice("info", f"workspace of {session_id} restored from its last checkpoint"))
            return ws
    return Workspace.create(options.cwd, workspaces_dir() / session_id)


def _sandbox(options: SessionOptions, ws: "Workspace", session_id: str):
    """The session's sandbox over the scratch tree; None picks docker, else bwrap."""
    from tools.sandbox.errors import SandboxUnavailable
    from tools.sandbox.select import open_sandbox
    kind = options.sandbox or os.environ.get("AMA_SANDBOX")
    try:
        user_skills = [s.root for s in options.skills if s.scope == "user"]  # seen read-only
        return open_sandbox(kind, ws.tree, image=options.sandbox_image, network=options.network,
                            readonly_mounts=[*ws.readonly_mounts, *user_skills],
                            session_id=session_id)
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


def _first_context(options: SessionOptions, ws: "Workspace", focus: str,
                   sink: ev.EventSink) -> str:
    """The repo map for the first turn, leaning toward paths and names in `focus`; ""
    when disabled (`repo_map.max_tokens = 0`) or failing — never an error."""
    if options.repo_map_tokens <= 0:
        return ""
    try:
        from tools.repomap import build_repo_map
        words = set(_WORD.findall(focus))
        files = [w for w in words if ("/" in w or "." in w) and (ws.tree / w).exists()]
        idents = [w for w in words if w.isidentifier()]
        return build_repo_map(ws.tree, cache_dir=ama_home() / "cache" / "repomap",
                              focus_files=files, focus_idents=idents,
                              max_tokens=options.repo_map_tokens,
                              cache_key=str(ws.user_root)).strip()
    except Exception as e:  # the map helps; it must never stop a run
        sink(ev.Notice("debug", f"no repo map for the first turn: {type(e).__name__}: {e}"))
        return ""


def _compactor(options: SessionOptions, model, ws: "Workspace", sink: ev.EventSink) -> "Compactor":
    from agent.core.compaction import Compactor

    def changed_files() -> list[str]:
        return [f["path"] for f in ws.change_set(fresh=False).summary()["files"]]

    return Compactor(model=model, emit=sink, context_window=context_window(options, model),
                     threshold=options.compaction_threshold,
                     keep_turns=options.compaction_keep_turns, changed_files=changed_files)
