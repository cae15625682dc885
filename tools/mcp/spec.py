"""STAND-IN of the real tools/mcp/spec.py (replaced at merge): the interface only.
Light: no `mcp` import."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class ServerSpec:
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


def tool_name(server: str, tool: str) -> str:
    """"mcp__<server>__<tool>", sanitised to [A-Za-z0-9_-], hashed past 64 characters."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", f"mcp__{server}__{tool}")
    if len(name) > 64:
        name = name[:55] + "_" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return name
