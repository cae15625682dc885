"""The MCP servers a session starts, from the merged config.

`server_specs(cfg)` turns every `[mcp_servers.NAME]` (user config, and a trusted repo's
`.ama/config.toml` and `.mcp.json`, merged key by key by agent/config/load.py) into a
`ServerSpec`. Where each one runs:

    user config, stdio or HTTP        runs on this machine (the user's own definition)
    user config with sandbox = true   runs in the session's sandbox
    repository, HTTP                  connects (the repo was trusted, bound to its hash)
    repository, stdio                 runs in the session's sandbox, always

A server any of whose keys a repository set counts as the repository's. `enabled =
false` servers are left out. Which sandbox a sandboxed one gets (and a refusal when the
session has none: `--sandbox local`) is settled when the session opens
(`_McpStart` in agent/session/open.py). Light: imports no `mcp`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Mapping, TYPE_CHECKING

from agent.core.errors import BadInput
from tools.mcp.spec import ServerSpec

if TYPE_CHECKING:
    from agent.config.load import Config

NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_REPO_SOURCES = ("project config", ".mcp.json")
UNTRUSTED_TASK = ("--untrusted: MCP servers are not started for a task from an untrusted "
                  "source")


@dataclass(frozen=True)
class McpPlan:
    """start: the servers to start; refused: (server, why it is not started) of the
    others that are enabled (status "disabled")."""
    start: tuple[ServerSpec, ...] = ()
    refused: tuple[tuple[ServerSpec, str], ...] = ()


def server_tables(cfg: "Config") -> dict[str, dict[str, Any]]:
    """NAME -> its keys, as merged; each also has "_sources": {key: source}."""
    servers: dict[str, dict[str, Any]] = {}
    for dotted, value in cfg.values.items():
        if dotted.startswith("mcp_servers.") and value is not None:
            name, leaf = dotted[len("mcp_servers."):].rsplit(".", 1)
            entry = servers.setdefault(name, {"_sources": {}})
            entry[leaf] = value
            entry["_sources"][leaf] = cfg.source(dotted)
    return servers


def defined_by_repo(table: Mapping[str, Any]) -> bool:
    return any(src.startswith(_REPO_SOURCES) for src in table["_sources"].values())


def source_of(table: Mapping[str, Any]) -> str:
    """Where a server was defined, without line numbers: the repo file if the repo set
    any of its keys, else where its first key came from."""
    sources = list(table["_sources"].values())
    first = next((s for s in sources if s.startswith(_REPO_SOURCES)), sources[0])
    return re.sub(r":(\d+|\?)$", "", first)


def server_specs(cfg: "Config", env: Mapping[str, str] | None = None) -> McpPlan:
    """The servers to start (server_specs refuses none; `--untrusted` does). Raises BadInput naming the server and
    where it was defined (a bad name, both or neither of command and url, an unset
    `bearer_token_env` variable)."""
    env = os.environ if env is None else env
    start: list[ServerSpec] = []
    for name, table in server_tables(cfg).items():
        source = source_of(table)
        if not NAME.match(name):
            raise BadInput(f"{source}: MCP server name {name!r}: use letters, digits, _ and -")
        if not table.get("enabled", True):
            continue
        start.append(_spec(name, table, source, env))
    return McpPlan(tuple(start))


def _spec(name: str, t: Mapping[str, Any], source: str, env: Mapping[str, str]) -> ServerSpec:
    where = f"{source}: mcp_servers.{name}"
    if bool(t.get("command")) == bool(t.get("url")):
        raise BadInput(f"{where}: give either `command` (a stdio server) or `url` (streamable "
                       f"HTTP), not {'both' if t.get('command') else 'neither'}")
    stdio_only = [k for k in ("args", "env", "cwd", "sandbox") if k in t and t.get("url")]
    http_only = [k for k in ("headers", "bearer_token_env") if k in t and t.get("command")]
    if stdio_only or http_only:
        raise BadInput(f"{where}: {', '.join(stdio_only or http_only)} "
                       f"{'is' if len(stdio_only or http_only) == 1 else 'are'} for "
                       f"{'stdio' if stdio_only else 'HTTP'} servers only")
    headers = dict(t.get("headers") or {})
    if var := t.get("bearer_token_env"):
        if not env.get(var):
            raise BadInput(f"{where}.bearer_token_env names {var}, which is not set; "
                           f"export {var}=YOUR_TOKEN")
        headers["Authorization"] = f"Bearer {env[var]}"
    enabled = t.get("enabled_tools")
    return ServerSpec(
        name=name, command=t.get("command"), args=tuple(t.get("args") or ()),
        env=dict(t.get("env") or {}), cwd=t.get("cwd"), url=t.get("url"), headers=headers,
        startup_timeout=float(t.get("startup_timeout", 10.0)),
        tool_timeout=float(t.get("tool_timeout", 60.0)), required=bool(t.get("required")),
        enabled_tools=tuple(enabled) if enabled is not None else None,
        disabled_tools=tuple(t.get("disabled_tools") or ()),
        trusted=not defined_by_repo(table=t), source=source,
        sandboxed=bool(t.get("command")) and (defined_by_repo(t) or bool(t.get("sandbox"))))


def where_it_runs(table: Mapping[str, Any]) -> str:
    """One phrase for `ama mcp list`: how this build treats the server."""
    if not table.get("enabled", True):
        return "disabled (enabled = false)"
    if table.get("url"):
        return "connects over HTTP"
    if defined_by_repo(table):
        return "runs in the session's sandbox (defined by the repository)"
    if table.get("sandbox"):
        return "runs in the session's sandbox (sandbox = true)"
    return "runs on this machine"
