"""A repository's `.mcp.json` in Claude Code's format, as `mcp_servers.*` config values.

    {"mcpServers": {"NAME": {"command": "...", "args": [...], "env": {...}},
                    "NAME": {"type": "http", "url": "...", "headers": {...}}}}

`${VAR}` and `${VAR:-default}` in any string are expanded from the environment given;
an unset variable without a default is BadInput naming it. Read only for a trusted
repository (agent/config/load.py decides); the trust hash covers the file.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from agent.core.errors import BadInput
from tools.json_safe import JSONTextError, loads

FILE = ".mcp.json"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TYPES = ("stdio", "http", "streamable-http")
_KEYS = {"type": str, "command": str, "args": list, "env": dict, "cwd": str, "url": str,
         "headers": dict}


def mcp_json_values(path: Path, env: Mapping[str, str]
                    ) -> tuple[list[tuple[str, Any]], list[str]]:
    """(dotted config name, value) pairs for every server `path` defines, and notices
    (keys ama does not read). Raises BadInput naming the file and the entry."""
    try:
        data = loads(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as e:
        raise BadInput(f"{path}: cannot read it ({e.strerror or e})") from None
    except JSONTextError as e:
        raise BadInput(f"{path}: {e}") from None
    servers = data.get("mcpServers", {}) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise BadInput(f"{path}: expected {{\"mcpServers\": {{NAME: {{...}}}}}}")
    values: list[tuple[str, Any]] = []
    notices: list[str] = []
    for name, entry in servers.items():
        where = f"{path}: mcpServers.{name}"
        if not isinstance(entry, dict):
            raise BadInput(f"{where} must be an object")
        for key, value in entry.items():
            if key not in _KEYS:
                notices.append(f"{where}: {key!r} is not read by ama")
                continue
            if not isinstance(value, _KEYS[key]) or not _strings(value):
                raise BadInput(f"{where}.{key} must be {_KEYS[key].__name__} of strings")
        kind = entry.get("type", "http" if "url" in entry else "stdio")
        if kind not in _TYPES:
            raise BadInput(f"{where}.type {kind!r}: ama speaks stdio and http (streamable "
                           f"HTTP); not {kind}")
        for key, value in entry.items():
            if key in _KEYS and key != "type":
                values.append((f"mcp_servers.{name}.{key}", _expand(value, env, f"{where}.{key}")))
    return values, notices


def _strings(value: Any) -> bool:
    items: Iterable[Any] = value.values() if isinstance(value, dict) else \
        value if isinstance(value, list) else [value]
    return all(isinstance(v, str) for v in items)


def _expand(value: Any, env: Mapping[str, str], where: str) -> Any:
    """`value` with ${VAR} / ${VAR:-default} replaced in every string it holds."""
    if isinstance(value, list):
        return [_expand(v, env, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, env, where) for k, v in value.items()}

    def one(m: re.Match) -> str:
        var, default = m.group(1), m.group(2)
        if env.get(var):
            return env[var]
        if default is not None:
            return default
        raise BadInput(f"{where}: ${{{var}}} is not set; export {var}, or write "
                       f"${{{var}:-DEFAULT}} in the file")
    return _VAR.sub(one, value)
