"""What an MCP server is (`ServerSpec`) and what its tools are called (`tool_name`)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Mapping

NAME_LIMIT = 64  # the longest tool name model APIs accept


@dataclass(frozen=True)
class ServerSpec:
    """One MCP server, as the config settled it.

    name:     the server's name in `mcp__<name>__<tool>` and in messages.
    # stdio: a subprocess spoken to over stdin/stdout
    command, args, env, cwd: the program, its arguments, extra environment (merged over a
              small safe base: PATH, HOME, ...), its working directory.
    # streamable HTTP
    url, headers: the endpoint and the headers every request carries.
    # limits
    startup_timeout: seconds from spawn/connect to the tool list; past it the server is
              "timeout" and the session goes on without it.
    tool_timeout: seconds one call may take before it is abandoned as a tool error.
    # policy
    required: the caller stops the run when this one does not connect.
    enabled_tools: only these tools (server-side names) are offered; None: all.
    disabled_tools: never offered, even if enabled.
    trusted:  defined by the user (or a trusted repo): readOnlyHint is honoured.
    source:   where it was defined, for messages.
    enabled:  False: not started; its status says "disabled".
    sandboxed: a stdio server that runs inside the session's sandbox (one a repository
              defined, or one with `sandbox = true`); command, cwd and env are then as the
              sandbox sees them, and the session fills in `launch`.
    launch, launch_env: the host command line that actually starts it (for a sandboxed
              server: the sandbox's way in, e.g. `docker exec -i ...`) and that process's
              environment; empty: command and args as they are. Not part of what the
              server *is* (its definition), so a new container does not make it new.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    startup_timeout: float = 10.0
    tool_timeout: float = 60.0
    required: bool = False
    enabled_tools: tuple[str, ...] | None = None
    disabled_tools: tuple[str, ...] = ()
    trusted: bool = False
    source: str = ""
    enabled: bool = True
    sandboxed: bool = False
    launch: tuple[str, ...] = ()
    launch_env: Mapping[str, str] = field(default_factory=dict)

    def offers(self, tool: str) -> bool:
        """Whether the server-side tool `tool` passes enabled_tools / disabled_tools."""
        if tool in self.disabled_tools:
            return False
        return self.enabled_tools is None or tool in self.enabled_tools


def tool_name(server: str, tool: str) -> str:
    """The model-facing name of `tool` on `server`: "mcp__<server>__<tool>", every
    character outside [A-Za-z0-9_-] replaced by "_". Past 64 characters it keeps the
    first 55 and appends "_" and 8 hex digits of the SHA-256 of the unsanitised
    "<server>/<tool>", so two long names that share a prefix stay apart."""
    name = _sanitise(f"mcp__{server}__{tool}")
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.sha256(f"{server}/{tool}".encode()).hexdigest()[:8]
    return f"{name[:NAME_LIMIT - 9]}_{digest}"


def _sanitise(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)
