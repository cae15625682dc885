"""From the command line to options: the one place where flags meet config.

`settle(flags, ask=...)` decides trust (`--trust`, or `ask(check)` on a terminal),
loads the config layers with the flags the user passed on top, resolves `--continue`
/ `--resume`, and returns `(SessionOptions, RunRequest | None)`: the request only for
a headless run (it reads the task, from stdin for "-").
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from agent.core.errors import BadInput
from agent.core.loop import Limits
from agent.session.options import RunRequest, SessionOptions, existing_dir, read_task

# Flags field -> config key, for the flags that have a config key of their own.
FLAG_KEYS = {"model": "model", "max_turns": "max_turns", "max_cost": "max_cost",
             "max_time": "max_time", "apply": "apply", "sandbox": "sandbox",
             "sandbox_image": "sandbox_image", "network": "network", "verify": "verify",
             "max_verify": "max_verify", "permission_mode": "permission_mode",
             "allowed_tools": "permissions.allow", "disallowed_tools": "permissions.deny"}


@dataclass(frozen=True)
class Flags:
    """What the user gave on the command line. None (or empty) means "not given":
    config decides. Each field is the flag of the same name (`ama --help`)."""
    task: str = ""
    task_file: Path | None = None
    model: str | None = None
    cwd: Path | None = None
    max_turns: int | None = None
    max_cost: float | None = None
    max_time: float | None = None
    output_format: str = "text"
    input_format: str = "text"
    apply: str | None = None
    patch_out: Path | None = None
    sandbox: str | None = None
    sandbox_image: str | None = None
    network: bool | None = None
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    permission_mode: str | None = None
    keep_workspace: bool = False
    verify: str | None = None
    max_verify: int | None = None
    untrusted: bool = False
    attempts: int = 1
    parallel: int | None = None
    select: str = "smallest"
    author: str | None = None
    trust: bool = False
    config: tuple[str, ...] = ()          # --config FILE or KEY=VALUE
    continue_: bool = False
    resume: str | None = None             # "" : the latest session


TrustAsk = Callable[[Any], bool]   # shown a TrustCheck; True trusts the repository


def settle(flags: Flags, *, headless: bool, ask: TrustAsk | None = None
           ) -> tuple[SessionOptions, RunRequest | None]:
    """Options for a session (and, when `headless`, its run). Raises BadInput."""
    from agent.config.hooks import hook_specs
    from agent.config.load import load_config, model_options
    from agent.config.mcp import UNTRUSTED_TASK, McpPlan, server_specs
    from agent.config.trust import ask_trust, check_trust, grant_trust, project_root, saved_rules
    from agent.extensions.agents import find_agents
    from agent.extensions.commands import find_commands
    from agent.extensions.skills import find_skills

    cwd = existing_dir(flags.cwd or Path.cwd(), "--cwd")
    root = project_root(cwd)
    if flags.trust:
        grant_trust(root, cwd)
    elif ask is not None:
        ask_trust(root, cwd, ask)
    check = check_trust(root, cwd)
    given = {key: getattr(flags, name) for name, key in FLAG_KEYS.items()
             if getattr(flags, name) not in (None, [], ())}
    cfg = load_config(root, trusted=check.trusted, flags=given, extra=flags.config)
    changed = [f for f in check.changed if f != ".mcp.json"]   # load_config says that one
    if not check.trusted and changed and ".ama/config.toml" not in changed:
        cfg.notices.append(f"repository files not trusted yet ({', '.join(changed)}): "
                           f"their instructions are treated as untrusted notes; --trust to trust them")
    model = cfg.get("model")
    mcp = server_specs(cfg)
    commands, command_warnings = find_commands(root, check.trusted)
    skills, skill_warnings = find_skills(root, check.trusted)
    agents, agent_warnings = find_agents(root, check.trusted)
    cfg.notices.extend([*command_warnings, *skill_warnings, *agent_warnings])
    if flags.untrusted and mcp.start:   # a task from a stranger drives no host-side servers
        mcp = McpPlan((), (*mcp.refused, *((s, UNTRUSTED_TASK) for s in mcp.start)))
    options = SessionOptions(
        model=model, cwd=cwd,
        limits=Limits(max_turns=cfg.get("max_turns"), max_seconds=cfg.get("max_time"),
                      max_cost_usd=cfg.get("max_cost")),
        sandbox=cfg.get("sandbox"), sandbox_image=cfg.get("sandbox_image"),
        network=bool(cfg.get("network")), permission_mode=cfg.get("permission_mode"),
        allow=tuple(cfg.get("permissions.allow") or ()), ask=tuple(cfg.get("permissions.ask") or ()),
        deny=tuple(cfg.get("permissions.deny") or ()), granted=tuple(saved_rules(root)),
        verify=cfg.get("verify"), max_verify=cfg.get("max_verify"), trusted=check.trusted,
        resume=_resume_id(root, flags.continue_, flags.resume),
        keep_workspace=flags.keep_workspace, model_options=model_options(cfg, model),
        repo_map_tokens=int(cfg.get("repo_map.max_tokens")),
        compaction_threshold=float(cfg.get("compaction.threshold")),
        compaction_keep_turns=int(cfg.get("compaction.keep_turns")),
        context_window=cfg.get("context_window"), config=cfg, notices=tuple(cfg.notices),
        mcp_servers=mcp.start, mcp_refused=mcp.refused, commands=commands, skills=tuple(skills),
        hooks=hook_specs(cfg, root), max_stop_returns=int(cfg.get("hooks.max_stop_returns")),
        agents=tuple(agents), subagent_model=cfg.get("subagents.model"),
        subagent_max_depth=int(cfg.get("subagents.max_depth")))
    if not headless:
        return options, None
    request = RunRequest(
        task=_task(flags), output_format=flags.output_format, input_format=flags.input_format,
        apply=cfg.get("apply"), patch_out=flags.patch_out, attempts=flags.attempts,
        parallel=flags.parallel, select=flags.select, untrusted=flags.untrusted,
        author=flags.author)
    if request.attempts > 1 and options.resume:
        raise BadInput("--attempts cannot be combined with --continue or --resume: each "
                       "attempt starts a session of its own")
    return options, request


def _task(flags: Flags) -> str:
    """The task; none with --input-format stream-json, whose turns come from stdin (left
    unread here; a TASK given all the same is refused by RunRequest)."""
    if flags.input_format != "stream-json":
        return read_task(flags.task, flags.task_file)
    if flags.task_file is not None:
        raise BadInput("--input-format stream-json reads the turns from stdin: give no "
                       "TASK and no --task-file")
    return flags.task


def _resume_id(root: Path, continue_: bool, resume: str | None) -> str | None:
    """The session `--continue` (the latest here) or `--resume ID` names, or None."""
    from agent.session.store import find_session, latest_session, same_path
    if continue_ and resume:
        raise BadInput("give --continue or --resume ID, not both")
    if continue_ or resume == "":
        return latest_session(root).id
    if resume is None:
        return None
    info = find_session(resume)
    if info.root and not same_path(info.root, root):
        raise BadInput(f"session {info.id} belongs to {info.root}; run from there "
                       f"or pass --cwd {info.root}")
    return info.id
